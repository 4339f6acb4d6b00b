"""The UNet configuration: a pydantic model saved in every model package (no torch here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MAX_PARAMETERS", "UNetConfig"]

#: The most learnt parameters a network may have: 2**30, 4 GiB of float32 weights. A card (or
#: a command line) asking for more is refused before torch allocates anything.
MAX_PARAMETERS = 2**30


class UNetConfig(BaseModel):
    """Architecture of a :class:`~stratoseg.models.UNet` (2-D, 2.5D or 3-D).

    Each level has two 3x3 (3x3x3) convolutions with padding 1, each followed by the
    normalisation and the activation. The encoder has ``depth`` levels, each ending with a 2x2
    max-pool; the bottleneck is at level ``depth``; the decoder up-samples by 2, concatenates the
    encoder output of the same level (skip first, then the up-sampled features) and applies the
    two convolutions; a final 1x1 convolution gives ``out_channels`` logits. Level ``l`` has
    ``base_filters * 2**l`` filters.

    Attributes
    ----------
    spatial_dims : {2, 3}
        2-D (``(B, C, Y, X)``) or 3-D (``(B, C, Z, Y, X)``) convolutions.
    in_channels : int >= 1
        Input channels per slice (image and derived channels).
    out_channels : int >= 1
        Output channels (class logits).
    depth : int in 1..6
        Number of 2x down-samplings. Window sizes must be multiples of :attr:`divisor`.
    base_filters : int >= 1
        Filters at level 0, doubling at every level.
    norm : {"batch", "instance", "group", "none"}
        Normalisation after every 3x3 convolution (instance norm has learnt affine weights).
    groups : int >= 1
        Groups of the group norm; must divide ``base_filters`` (and so every level's filter
        count). Ignored by the other norms.
    activation : {"relu", "leaky_relu", "gelu", "elu"}
        Non-linearity after every normalisation (leaky ReLU slope 0.01).
    upsample : {"transpose", "interp"}
        ``"transpose"``: a 2x2 transposed convolution with stride 2. ``"interp"``: nearest
        neighbour up-sampling by 2 followed by a 3x3 convolution (the "resize-convolution",
        free of checkerboard artefacts); its 3x3 convolution widens the receptive field.
    context : odd int >= 1
        2.5D: the number of neighbouring z-slices the 2-D network sees. The network input then
        has ``in_channels * context`` channels, channel-major: channel ``c * context + k`` is
        channel ``c`` of slice ``z + k - context // 2`` (a ``(C, context, Y, X)`` window
        reshaped to ``(C * context, Y, X)``, as inference and training fold it). Needs
        ``spatial_dims=2``.

    Notes
    -----
    The receptive field is found by walking the layers backwards from one output voxel with
    exact integer intervals (:meth:`receptive_extent`). At level ``l`` one voxel spans ``2**l``
    input voxels. A 3x3 convolution widens the interval by one voxel of its level on each side
    (``2 * 2**l`` input voxels); the 2x2 max-pool from level ``l`` maps level-``l + 1`` voxels
    ``[a, b]`` to level-``l`` voxels ``[2a, 2b + 1]`` (``+ 2**l``); the transposed convolution
    (kernel = stride = 2) and the nearest-neighbour up-sampling make voxel ``p`` read voxel
    ``p // 2`` of the coarser level (adding nothing but the rounding); the 3x3 convolution of
    ``"interp"`` widens like any other; a skip concatenation takes the union; the 1x1 head adds
    nothing.

    Worked example, ``depth=1``, ``"transpose"``, output voxel 0: decoder level 0, two convs:
    ``[-2, 2]``; transposed conv: level-1 voxels ``[-1, 1]``; bottleneck, two convs: ``[-3, 3]``;
    max-pool: level-0 voxels ``[-6, 7]`` (the skip needs ``[-2, 2]``, inside it); encoder level
    0, two convs: ``[-8, 9]``. So 18 voxels, 8 on the left and 9 on the right (voxel 1: 9 and
    8), the same as the chain rule ``1 + sum (k - 1) * 2**l`` = 1 + 2 + 2 + 1 + 4 + 4 + 2 + 2.

    That chain rule (``13 * 2**D - 8`` for ``"transpose"``, ``15 * 2**D - 10`` for ``"interp"``)
    is exact only for shallow networks. Up-sampling brings the rounding: a window of even width
    ``w`` at a fine level covers ``w / 2`` or ``w / 2 + 1`` coarse voxels depending on where it
    starts, so the field of an output voxel depends on its position modulo :attr:`divisor` and
    need not be centred on it. :attr:`receptive_field` is the widest field over those positions
    and :attr:`halo` the farthest reach on one side (at least ``receptive_field // 2``):

    =====  ======================  ====  ======================  ====
    depth  transpose: field        halo  interp: field           halo
    =====  ======================  ====  ======================  ====
    1      18                      9     20                      10
    2      44                      23    52 (48 for some)        26
    3      100 (92 for some)       51    116 (108 for some)      58
    4      204 (188 for some)      107   236 (220 for some)      122
    5      412 (380 for some)      219   476 (444 for some)      250
    6      828 (764 for some)      443   956 (892 for some)      506
    =====  ======================  ====  ======================  ====

    Tiles whose origins are multiples of :attr:`divisor` apart see the same pooling grid, so a
    voxel with :attr:`halo` voxels of real data on each side gets the same logits in any such
    tile. In 2.5D the field is ``context`` slices in z.

    Examples
    --------
    >>> cfg = UNetConfig(spatial_dims=2, in_channels=1, out_channels=3, depth=2, base_filters=4)
    >>> cfg.receptive_field, cfg.halo, cfg.divisor
    (44, 23, 4)
    >>> UNetConfig(spatial_dims=2, in_channels=2, out_channels=2, depth=1, base_filters=4,
    ...            context=3).network_in_channels
    6
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_assignment=True, allow_inf_nan=False
    )

    spatial_dims: Literal[2, 3]
    in_channels: int = Field(ge=1)
    out_channels: int = Field(ge=1)
    depth: int = Field(ge=1, le=6)
    base_filters: int = Field(ge=1)
    norm: Literal["batch", "instance", "group", "none"] = "batch"
    groups: int = Field(default=8, ge=1)
    activation: Literal["relu", "leaky_relu", "gelu", "elu"] = "relu"
    upsample: Literal["transpose", "interp"] = "transpose"
    context: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> UNetConfig:
        if self.parameter_count > MAX_PARAMETERS:
            raise ValueError(
                f"the network would have {self.parameter_count:.3g} parameters (base_filters="
                f"{self.base_filters}, depth={self.depth}, in_channels={self.in_channels}, "
                f"out_channels={self.out_channels}, context={self.context}), more than the "
                f"{MAX_PARAMETERS:,} allowed (4 GiB of float32 weights)"
            )
        if self.context % 2 == 0:
            raise ValueError(f"context must be odd (slices centred on z), got {self.context}")
        if self.context > 1 and self.spatial_dims != 2:
            raise ValueError(
                f"context > 1 (2.5D) needs spatial_dims=2, got context={self.context} with "
                f"spatial_dims={self.spatial_dims}"
            )
        if self.norm == "group":
            bad = [f for f in self.filters if f % self.groups]
            if bad:
                raise ValueError(
                    f"groups={self.groups} must divide every level's filter count "
                    f"{list(self.filters)} for norm='group' (it does not divide {bad[0]})"
                )
        return self

    @property
    def filters(self) -> tuple[int, ...]:
        """Filters at levels ``0..depth`` (``base_filters * 2**l``)."""
        return tuple(self.base_filters * 2**level for level in range(self.depth + 1))

    @property
    def parameter_count(self) -> int:
        """The number of learnt parameters of the network (weights, biases, norm affines),
        computed from the configuration without building it.

        Examples
        --------
        >>> UNetConfig(spatial_dims=2, in_channels=1, out_channels=3, depth=2,
        ...            base_filters=4).parameter_count
        7487
        """
        k = 3**self.spatial_dims
        norm = 0 if self.norm == "none" else 2  # affine weight and bias per channel
        bias = 1 if self.norm == "none" else 0  # the convs have a bias only without a norm

        def double(cin: int, cout: int) -> int:
            return cin * cout * k + cout * cout * k + 2 * cout * (bias + norm)

        f = self.filters
        total = double(self.network_in_channels, f[0])
        total += sum(double(f[level - 1], f[level]) for level in range(1, self.depth + 1))
        up_kernel = 2**self.spatial_dims if self.upsample == "transpose" else k
        total += sum(f[level + 1] * f[level] * up_kernel + f[level] for level in range(self.depth))
        total += sum(double(2 * f[level], f[level]) for level in range(self.depth))
        return total + f[0] * self.out_channels + self.out_channels

    @property
    def network_in_channels(self) -> int:
        """Channels of the network input: ``in_channels * context``."""
        return self.in_channels * self.context

    @property
    def divisor(self) -> int:
        """``2**depth``: every spatial size of the input must be a multiple of it."""
        return int(2**self.depth)

    def receptive_extent(self, offset: int = 0) -> tuple[int, int]:
        """How far the field of an output voxel reaches ``(left, right)`` along one axis.

        Parameters
        ----------
        offset : int
            The voxel's position (modulo :attr:`divisor`) relative to the window's origin.

        Returns
        -------
        (int, int)
            The logits of voxel ``p`` depend on input voxels ``p - left`` to ``p + right``.

        Examples
        --------
        >>> cfg = UNetConfig(spatial_dims=2, in_channels=1, out_channels=2, depth=2,
        ...                  base_filters=4)
        >>> [cfg.receptive_extent(r) for r in range(cfg.divisor)]
        [(22, 21), (23, 20), (20, 23), (21, 22)]
        """
        if not isinstance(offset, int):
            raise TypeError(f"offset must be an int, got {type(offset).__name__}")
        o = offset % self.divisor

        def widen(iv: tuple[int, int], n: int) -> tuple[int, int]:
            return iv[0] - n, iv[1] + n

        need = (o, o)  # the voxels needed of the current tensor, in its level's coordinates
        skips = []
        for _ in range(self.depth):  # decoder, backwards from level 0 up
            need = widen(need, 2)  # two 3x3 convs after the concatenation
            skips.append(need)  # what the skip needs of the encoder output at this level
            if self.upsample == "interp":
                need = widen(need, 1)  # the 3x3 conv after the nearest-neighbour up-sampling
            need = (need[0] // 2, need[1] // 2)  # up-sampling: voxel p reads p // 2
        need = widen(need, 2)  # bottleneck: two 3x3 convs
        for level in reversed(range(self.depth)):  # encoder, backwards from the bottom
            pooled = (2 * need[0], 2 * need[1] + 1)  # 2x2 max-pool
            need = (min(pooled[0], skips[level][0]), max(pooled[1], skips[level][1]))
            need = widen(need, 2)  # two 3x3 convs
        return o - need[0], need[1] - o

    @property
    def receptive_field(self) -> int:
        """Width in voxels of the widest input region one output voxel depends on (each
        spatial axis; in z only ``context`` slices for 2.5D). See the class notes."""
        return max(sum(self.receptive_extent(r)) + 1 for r in range(self.divisor))

    @property
    def halo(self) -> int:
        """The farthest an output voxel's field reaches on one side: the margin of real data a
        tile needs around the voxels it keeps (y and x, and z in 3-D)."""
        return max(max(self.receptive_extent(r)) for r in range(self.divisor))
