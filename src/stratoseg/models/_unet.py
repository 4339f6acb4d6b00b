"""The UNet ``nn.Module`` (2-D, 2.5D, 3-D) and its factory. Importing this module imports torch."""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import nn

from stratoseg.models._config import UNetConfig

__all__ = ["UNet", "build_model", "inference_copy"]

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_TRANSPOSE = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}


def _norm(cfg: UNetConfig, channels: int) -> nn.Module:
    if cfg.norm == "batch":
        return (nn.BatchNorm2d if cfg.spatial_dims == 2 else nn.BatchNorm3d)(channels)
    if cfg.norm == "instance":
        cls = nn.InstanceNorm2d if cfg.spatial_dims == 2 else nn.InstanceNorm3d
        return cls(channels, affine=True)
    if cfg.norm == "group":
        return nn.GroupNorm(cfg.groups, channels)
    return nn.Identity()


def _activation(cfg: UNetConfig) -> nn.Module:
    return {
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "gelu": nn.GELU,
        "elu": nn.ELU,
    }[cfg.activation]()


def _double_conv(cfg: UNetConfig, cin: int, cout: int) -> nn.Sequential:
    """Two (3x3 conv, norm, activation); the convs have a bias only without a norm."""
    conv = _CONV[cfg.spatial_dims]
    bias = cfg.norm == "none"
    return nn.Sequential(
        conv(cin, cout, 3, padding=1, bias=bias),
        _norm(cfg, cout),
        _activation(cfg),
        conv(cout, cout, 3, padding=1, bias=bias),
        _norm(cfg, cout),
        _activation(cfg),
    )


def _up(cfg: UNetConfig, cin: int, cout: int) -> nn.Module:
    if cfg.upsample == "transpose":
        return _TRANSPOSE[cfg.spatial_dims](cin, cout, 2, stride=2)
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        _CONV[cfg.spatial_dims](cin, cout, 3, padding=1),
    )


class UNet(nn.Module):
    """A UNet returning class logits; the architecture is described by :class:`UNetConfig`.

    Parameters
    ----------
    spatial_dims, in_channels, out_channels, depth, base_filters : int
        The required fields of :class:`UNetConfig`.
    norm, groups, activation, upsample, context : optional
        Its optional fields. All are validated there: a bad value raises a ``ValueError``
        (pydantic ``ValidationError``) naming the field.

    Attributes
    ----------
    config : UNetConfig
        The validated configuration (saved in model packages).

    Notes
    -----
    The layers are ``encoders[l]`` (two convs at level ``l``), ``bottleneck``, ``ups[l]``
    (level ``l + 1`` -> ``l``), ``decoders[l]`` and ``head`` (1x1 conv); their names are the
    tensor names in ``model.safetensors``.

    Examples
    --------
    >>> net = UNet(spatial_dims=2, in_channels=1, out_channels=3, depth=2, base_filters=4)
    >>> net(torch.zeros(1, 1, 16, 16)).shape
    torch.Size([1, 3, 16, 16])
    """

    def __init__(
        self,
        *,
        spatial_dims: Literal[2, 3],
        in_channels: int,
        out_channels: int,
        depth: int,
        base_filters: int,
        norm: Literal["batch", "instance", "group", "none"] = "batch",
        groups: int = 8,
        activation: Literal["relu", "leaky_relu", "gelu", "elu"] = "relu",
        upsample: Literal["transpose", "interp"] = "transpose",
        context: int = 1,
    ) -> None:
        super().__init__()
        cfg = UNetConfig(
            spatial_dims=spatial_dims,
            in_channels=in_channels,
            out_channels=out_channels,
            depth=depth,
            base_filters=base_filters,
            norm=norm,
            groups=groups,
            activation=activation,
            upsample=upsample,
            context=context,
        )
        self.config = cfg
        f = cfg.filters
        self.encoders = nn.ModuleList(
            _double_conv(cfg, cfg.network_in_channels if level == 0 else f[level - 1], f[level])
            for level in range(cfg.depth)
        )
        self.pool = _POOL[cfg.spatial_dims](2)
        self.bottleneck = _double_conv(cfg, f[cfg.depth - 1], f[cfg.depth])
        self.ups = nn.ModuleList(_up(cfg, f[level + 1], f[level]) for level in range(cfg.depth))
        self.decoders = nn.ModuleList(
            _double_conv(cfg, 2 * f[level], f[level]) for level in range(cfg.depth)
        )
        self.head = _CONV[cfg.spatial_dims](f[0], cfg.out_channels, 1)

    @classmethod
    def from_config(cls, config: UNetConfig) -> UNet:
        """The network described by ``config``."""
        if not isinstance(config, UNetConfig):
            raise TypeError(f"config must be a UNetConfig, got {type(config).__name__}")
        return cls(**config.model_dump())

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``(B, network_in_channels, *spatial)`` with
        every spatial size a positive multiple of ``config.divisor``."""
        cfg = self.config
        shape = tuple(x.shape)
        if x.ndim != cfg.spatial_dims + 2:
            raise ValueError(
                f"input must have {cfg.spatial_dims + 2} dimensions (B, C, "
                f"{'Y, X' if cfg.spatial_dims == 2 else 'Z, Y, X'}), got shape {shape}"
            )
        if shape[1] != cfg.network_in_channels:
            raise ValueError(
                f"input must have {cfg.network_in_channels} channels (in_channels "
                f"{cfg.in_channels} x context {cfg.context}), got shape {shape}"
            )
        if any(s == 0 or s % cfg.divisor for s in shape[2:]):
            raise ValueError(
                f"input spatial sizes must be multiples of the divisor {cfg.divisor} "
                f"(2**depth), got shape {shape}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, out_channels, *spatial)`` of ``x`` ``(B, network_in_channels,
        *spatial)``; each spatial size must be a multiple of ``config.divisor``."""
        if not torch.jit.is_tracing():  # a traced copy is made for one input shape
            self.check_input(x)
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for level in reversed(range(self.config.depth)):
            # each skip is let go once joined, and the join replaces both halves: the
            # full-resolution level holds 4 rather than 6 feature maps of its width at once
            x = torch.cat([skips.pop(), self.ups[level](x)], dim=1)
            x = self.decoders[level](x)
        out: torch.Tensor = self.head(x)
        return out


def build_model(config: UNetConfig) -> UNet:
    """Build the network a configuration describes (the factory used by packages and training).

    Examples
    --------
    >>> cfg = UNetConfig(spatial_dims=3, in_channels=1, out_channels=2, depth=1, base_filters=2)
    >>> build_model(cfg).config == cfg
    True
    """
    return UNet.from_config(config)


_BATCH_NORMS = (nn.BatchNorm2d, nn.BatchNorm3d)
#: Layers whose output is a new tensor (an activation after one may overwrite it).
_MAKE_NEW = (
    nn.Conv2d,
    nn.Conv3d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.GroupNorm,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
)


def inference_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` made lighter for inference; ``model`` is not changed.

    In every ``nn.Sequential``, a convolution followed by batch normalisation becomes one
    convolution: in eval mode the normalisation is affine, ``gamma (W x + b - mu) / sigma +
    beta``, which is a convolution with scaled weights and a shifted bias. Activations that
    can run in place then do (their input is a layer output nothing else holds). The outputs
    are those of ``model`` to float rounding; each layer makes one full-size tensor fewer and
    one pass less over the memory (docs/benchmarks.md).

    Examples
    --------
    >>> net = UNet(spatial_dims=2, in_channels=1, out_channels=2, depth=1, base_filters=4).eval()
    >>> fast = inference_copy(net)
    >>> x = torch.rand(1, 1, 8, 8)
    >>> bool(torch.allclose(net(x), fast(x), atol=1e-5))
    True
    >>> sum(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    0
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    out = copy.deepcopy(model).eval()
    for seq in [m for m in out.modules() if isinstance(m, nn.Sequential)]:
        layers = list(seq)
        for i in range(len(layers) - 1):
            conv, norm = layers[i], layers[i + 1]
            if isinstance(conv, (nn.Conv2d, nn.Conv3d)) and isinstance(norm, _BATCH_NORMS):
                seq[i] = fuse_conv_bn_eval(conv, norm)
                seq[i + 1] = nn.Identity()
        for i, layer in enumerate(seq):
            before = [m for m in list(seq)[:i] if not isinstance(m, nn.Identity)]
            if hasattr(layer, "inplace") and before and isinstance(before[-1], _MAKE_NEW):
                layer.inplace = True  # type: ignore[assignment]  # a new tensor, used once
    return out
