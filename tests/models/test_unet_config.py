"""UNetConfig: validation naming the field, derived sizes, the analytical receptive field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from stratoseg.models import UNetConfig

BASE: dict[str, Any] = {
    "spatial_dims": 2,
    "in_channels": 1,
    "out_channels": 2,
    "depth": 2,
    "base_filters": 4,
}


def cfg(**kw: Any) -> UNetConfig:
    return UNetConfig(**{**BASE, **kw})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spatial_dims", 1),
        ("in_channels", 0),
        ("out_channels", 0),
        ("depth", 0),
        ("depth", 7),
        ("base_filters", 0),
        ("norm", "layer"),
        ("groups", 0),
        ("activation", "tanh"),
        ("upsample", "bilinear"),
        ("context", 0),
    ],
)
def test_bad_field_is_named(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field) as info:
        cfg(**{field: value})
    assert [e["loc"] for e in info.value.errors()] == [(field,)]


def test_unknown_field_and_non_finite_are_refused() -> None:
    with pytest.raises(ValidationError, match="dropout"):
        cfg(dropout=0.1)
    with pytest.raises(ValidationError, match="depth"):
        cfg(depth=float("nan"))


def test_context_must_be_odd_and_2d() -> None:
    with pytest.raises(ValueError, match="context must be odd"):
        cfg(context=2)
    with pytest.raises(ValueError, match=r"context > 1 .*spatial_dims=2"):
        cfg(spatial_dims=3, context=3)
    c = cfg(in_channels=2, context=5)
    assert c.network_in_channels == 10


def test_groups_must_divide_every_level() -> None:
    with pytest.raises(ValueError, match=r"groups=8 must divide .*\[4, 8, 16\]"):
        cfg(norm="group")  # default groups 8, level 0 has 4 filters
    assert cfg(norm="group", groups=4).filters == (4, 8, 16)
    assert cfg(norm="batch", groups=3).groups == 3  # ignored by the other norms


def test_frozen_and_json_round_trip() -> None:
    c = cfg(norm="instance", activation="gelu", upsample="interp", context=3)
    with pytest.raises(ValidationError):
        c.depth = 3  # type: ignore[misc]
    assert UNetConfig.model_validate_json(c.model_dump_json()) == c


def test_divisor_and_filters() -> None:
    assert [cfg(depth=d).divisor for d in (1, 2, 6)] == [2, 4, 64]
    assert cfg(depth=3, base_filters=5).filters == (5, 10, 20, 40)


def test_receptive_field_by_hand() -> None:
    # depth 1, transpose, output voxel 0, walking backwards (see UNetConfig notes):
    #   decoder level 0, two 3x3 convs          [-2, 2]
    #   transposed conv: level-1 voxels p // 2  [-1, 1]
    #   bottleneck, two 3x3 convs (level 1)     [-3, 3]
    #   max-pool back to level 0 [2a, 2b + 1]   [-6, 7]  (skip needs [-2, 2]: inside)
    #   encoder level 0, two 3x3 convs          [-8, 9]  -> 18 voxels, reach 8 / 9
    # voxel 1: dec0 [-1, 3] -> up [-1, 1] -> [-3, 3] -> [-6, 7] -> [-8, 9]: reach 9 / 8.
    # Chain rule 1 + 2+2 + 1 + 4+4 + 2+2 = 18 agrees.
    c1 = cfg(depth=1)
    assert [c1.receptive_extent(r) for r in (0, 1)] == [(8, 9), (9, 8)]
    assert (c1.receptive_field, c1.halo) == (18, 9)
    # depth 2, transpose, output voxel 0:
    #   dec0 [-2, 2] -> up [-1, 1] (level 1) -> dec1 [-3, 3] -> up [-2, 1] (level 2)
    #   -> bottleneck [-4, 3] -> pool [-8, 7] (level 1; skip [-3, 3] inside) -> enc1 [-10, 9]
    #   -> pool [-20, 19] (level 0; skip [-2, 2] inside) -> enc0 [-22, 21]: 44 voxels.
    # Voxel 1: dec0 [-1, 3] -> [-1, 1] -> [-3, 3] -> [-2, 1] ... -> [-22, 21]: reach 23 / 20.
    # Chain rule: 1 + (4+1+4)*(1+2) + 4*4 = 44; but the halo is 23, not 44 // 2.
    c2 = cfg(depth=2)
    assert [c2.receptive_extent(r) for r in range(4)] == [(22, 21), (23, 20), (20, 23), (21, 22)]
    assert (c2.receptive_field, c2.halo) == (44, 23)
    # interp adds a 3x3 conv at each decoder level: depth 1, voxel 0: dec0 [-2, 2] -> conv
    # [-3, 3] -> nearest [-2, 1] -> bottleneck [-4, 3] -> pool [-8, 7] -> enc0 [-10, 9]: 20.
    assert cfg(depth=1, upsample="interp").receptive_extent(0) == (10, 9)
    assert cfg(depth=1, upsample="interp").receptive_field == 20


def test_receptive_field_table() -> None:
    """The values documented in the UNetConfig notes (widest field, halo)."""
    table = {
        "transpose": [(18, 9), (44, 23), (100, 51), (204, 107), (412, 219), (828, 443)],
        "interp": [(20, 10), (52, 26), (116, 58), (236, 122), (476, 250), (956, 506)],
    }
    for upsample, rows in table.items():
        got = [
            (c.receptive_field, c.halo)
            for c in (cfg(depth=d, upsample=upsample) for d in range(1, 7))
        ]
        assert got == rows
    # the chain rule 13 * 2**D - 8 is exact only up to depth 2 with transposed convolutions
    assert [cfg(depth=d).receptive_field for d in (1, 2)] == [13 * 2**d - 8 for d in (1, 2)]
    # the field does not depend on channels, norm or activation; z of 2.5D is the context
    assert cfg(depth=3, base_filters=16, norm="none", activation="elu", context=3).halo == 51


def test_receptive_extent_offset() -> None:
    c = cfg(depth=2)
    assert c.receptive_extent(5) == c.receptive_extent(1)  # modulo the divisor
    with pytest.raises(TypeError, match="offset"):
        c.receptive_extent(1.5)  # type: ignore[arg-type]


def test_an_absurd_network_is_refused_before_it_is_built() -> None:
    """The size check needs no torch: a card or a command line asking for 10**9 base filters
    is refused naming the fields, never allocated."""
    with pytest.raises(ValidationError, match=r"4.54e\+20 parameters \(base_filters=1000000000"):
        cfg(base_filters=10**9)
    with pytest.raises(ValidationError, match=r"more than the 1,073,741,824 allowed"):
        cfg(in_channels=10**7, base_filters=64)
    assert cfg(base_filters=64, depth=4, spatial_dims=3).parameter_count < 2**30
