"""UNet: output shapes over dims / norms / activations / up-sampling, input checks."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from stratoseg.models import UNet, UNetConfig, build_model, inference_copy

SMALL = {"in_channels": 1, "out_channels": 3, "depth": 2, "base_filters": 4}


@pytest.mark.parametrize(
    ("spatial_dims", "context", "in_channels", "spatial"),
    [
        (2, 1, 1, (16, 24)),
        (2, 3, 2, (8, 12)),  # 2.5D: 3 slices x 2 channels stacked as 6 input channels
        (3, 1, 1, (8, 12, 16)),
    ],
)
def test_output_shape_2d_25d_3d(
    spatial_dims: int, context: int, in_channels: int, spatial: tuple[int, ...]
) -> None:
    net = UNet(
        spatial_dims=spatial_dims,  # type: ignore[arg-type]
        in_channels=in_channels,
        out_channels=3,
        depth=2,
        base_filters=4,
        context=context,
    ).eval()
    x = torch.randn(2, in_channels * context, *spatial)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 3, *spatial)
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("norm", ["batch", "instance", "group", "none"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "elu"])
@pytest.mark.parametrize("upsample", ["transpose", "interp"])
def test_every_option_trains_and_keeps_the_shape(
    spatial_dims: int, norm: str, activation: str, upsample: str
) -> None:
    cfg = UNetConfig(
        spatial_dims=spatial_dims,  # type: ignore[arg-type]
        norm=norm,  # type: ignore[arg-type]
        groups=2,
        activation=activation,  # type: ignore[arg-type]
        upsample=upsample,  # type: ignore[arg-type]
        **SMALL,
    )
    net = build_model(cfg)
    assert net.config == cfg
    x = torch.randn(2, 1, *([8] * spatial_dims))
    y = net(x)  # train mode: batch statistics, gradients
    assert y.shape == (2, 3, *([8] * spatial_dims))
    y.square().mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    first = net.encoders[0][0].weight.grad
    assert first is not None
    assert first.abs().sum() > 0  # the gradient reaches the first layer


def test_layers_follow_the_config() -> None:
    net = UNet(spatial_dims=2, norm="none", **SMALL)
    assert len(net.encoders) == len(net.ups) == len(net.decoders) == 2
    assert net.encoders[0][0].bias is not None  # no norm: convs keep their bias
    assert UNet(spatial_dims=2, **SMALL).encoders[0][0].bias is None  # batch norm: no bias
    assert isinstance(net.ups[0], torch.nn.ConvTranspose2d)
    assert tuple(net.head.weight.shape) == (3, 4, 1, 1)
    interp = UNet(spatial_dims=3, upsample="interp", **SMALL)
    assert isinstance(interp.ups[1][1], torch.nn.Conv3d)
    assert tuple(interp.ups[1][1].weight.shape) == (8, 16, 3, 3, 3)


def test_from_config_and_build_model_agree() -> None:
    cfg = UNetConfig(spatial_dims=2, **SMALL)
    torch.manual_seed(0)
    a = UNet.from_config(cfg)
    torch.manual_seed(0)
    b = build_model(cfg)
    assert a.config == b.config == cfg
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    with pytest.raises(TypeError, match="UNetConfig"):
        UNet.from_config({"spatial_dims": 2})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((1, 1, 16, 18), r"multiples of the divisor 4 .*\(1, 1, 16, 18\)"),
        ((1, 1, 6, 16), r"divisor 4 .*\(1, 1, 6, 16\)"),
        ((1, 1, 0, 16), r"divisor 4"),
        ((1, 2, 16, 16), r"1 channels .*\(1, 2, 16, 16\)"),
        ((1, 16, 16), r"4 dimensions .*\(1, 16, 16\)"),
    ],
)
def test_bad_input_shape(shape: tuple[int, ...], match: str) -> None:
    net = UNet(spatial_dims=2, **SMALL)
    with pytest.raises(ValueError, match=match):
        net(torch.zeros(shape))


def test_bad_keyword_names_the_field() -> None:
    with pytest.raises(ValidationError, match="depth"):
        UNet(spatial_dims=2, in_channels=1, out_channels=2, depth=9, base_filters=4)
    with pytest.raises(ValueError, match="context"):
        UNet(spatial_dims=3, in_channels=1, out_channels=2, depth=1, base_filters=4, context=3)
    with pytest.raises(TypeError):
        UNet(2, 1, 2, 1, 4)  # type: ignore[misc]  # keyword-only


def test_eval_output_does_not_depend_on_the_batch() -> None:
    torch.manual_seed(0)
    net = UNet(spatial_dims=2, norm="instance", **SMALL).eval()
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        whole = net(x)
        single = net(x[1:2])
    torch.testing.assert_close(whole[1:2], single, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("norm", ["batch", "instance", "group", "none"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "gelu", "elu"])
def test_inference_copy_gives_the_same_outputs(
    spatial_dims: int, norm: str, activation: str
) -> None:
    torch.manual_seed(1)
    net = UNet(
        spatial_dims=spatial_dims,  # type: ignore[arg-type]
        norm=norm,  # type: ignore[arg-type]
        groups=2,
        activation=activation,  # type: ignore[arg-type]
        **SMALL,
    )
    with torch.no_grad():  # batch-norm statistics and affine terms that are not the identity
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.3, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fast = inference_copy(net)
    x = torch.randn(2, 1, *([16] * spatial_dims))
    with torch.inference_mode():
        expected, got = net(x), fast(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    batch_norms = (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
    assert not any(isinstance(m, batch_norms) for m in fast.modules())
    assert any(isinstance(m, batch_norms) for m in net.modules()) == (norm == "batch")
    for k, v in net.state_dict().items():  # the original is untouched
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    inplace = [m.inplace for m in fast.modules() if hasattr(m, "inplace")]
    assert all(inplace)
    assert len(inplace) == (0 if activation == "gelu" else 2 * (2 * 2 + 1))


@pytest.mark.parametrize("norm", ["batch", "instance", "group", "none"])
@pytest.mark.parametrize("upsample", ["transpose", "interp"])
@pytest.mark.parametrize(
    ("spatial_dims", "depth", "context"), [(2, 1, 1), (2, 3, 1), (2, 2, 3), (3, 1, 1), (3, 3, 1)]
)
def test_parameter_count_is_that_of_the_network(
    spatial_dims: int, norm: str, upsample: str, depth: int, context: int
) -> None:
    cfg = UNetConfig(spatial_dims=spatial_dims, in_channels=2, out_channels=3, depth=depth,
                     base_filters=8, norm=norm, upsample=upsample, context=context)  # fmt: skip
    assert cfg.parameter_count == sum(p.numel() for p in build_model(cfg).parameters())
