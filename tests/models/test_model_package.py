"""Model packages: folder and zip round trips; everything that must be refused is refused."""

from __future__ import annotations

import io
import pickle
import pickletools
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from stratoseg.models import (
    ModelCard,
    UNet,
    UNetConfig,
    build_model,
    load_package,
    read_card,
    save_package,
)

MakeCard = Callable[..., ModelCard]


@pytest.fixture
def model(tiny_config: UNetConfig) -> UNet:
    torch.manual_seed(0)
    net = build_model(tiny_config)
    with torch.no_grad():  # make the batch-norm buffers non-trivial too
        net(torch.randn(2, 1, 16, 16))
    return net.eval()


@pytest.fixture
def package(tmp_path: Path, model: UNet, make_card: MakeCard) -> Path:
    return save_package(model, make_card(model.config), tmp_path / "pkg")


@pytest.mark.parametrize("name", ["pkg", "pkg.zip"])
def test_round_trip(tmp_path: Path, model: UNet, make_card: MakeCard, name: str) -> None:
    card = make_card(model.config, voxel_size=[0.5, 0.5], unit="micrometer")
    path = save_package(model, card, tmp_path / name)
    assert path == tmp_path / name
    assert path.is_dir() == (name == "pkg")
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind
    loaded, card2 = load_package(path)
    assert card2 == card == read_card(path)
    assert not loaded.training
    assert loaded.config == model.config
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_zip_holds_the_two_files_at_the_top(tmp_path: Path, model, make_card) -> None:
    path = save_package(model, make_card(model.config), tmp_path / "m.zip")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["model.json", "model.safetensors"]
    again = save_package(model, make_card(model.config), tmp_path / "n.zip")
    assert again.read_bytes() == path.read_bytes()  # deterministic


def test_overwrite(tmp_path: Path, model, make_card, package: Path) -> None:
    with pytest.raises(FileExistsError, match="already exists"):
        save_package(model, make_card(model.config), package)
    card = make_card(model.config, description="second")
    save_package(model, card, package, overwrite=True)
    assert read_card(package).description == "second"
    (tmp_path / "x.zip").mkdir()
    with pytest.raises(FileExistsError, match="is a folder"):  # never replaced by a file
        save_package(model, card, tmp_path / "x.zip", overwrite=True)


def test_save_refuses_a_card_of_another_network(tmp_path: Path, model, make_card) -> None:
    other = model.config.model_copy(update={"base_filters": 8})
    with pytest.raises(ValueError, match="base_filters: 8 vs 4"):
        save_package(model, make_card(other), tmp_path / "p")
    with pytest.raises(TypeError, match="ModelCard"):
        save_package(model, {"name": "x"}, tmp_path / "p")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="UNet"):
        save_package(torch.nn.Linear(1, 1), make_card(model.config), tmp_path / "p")  # type: ignore[arg-type]
    assert not (tmp_path / "p").exists()


def test_read_card_does_not_read_the_weights(package: Path) -> None:
    (package / "model.safetensors").write_bytes(b"garbage")
    assert read_card(package).name == "tiny"
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_package(package)


class _Trap:
    """Unpickling this object would call open(marker, "w") and so create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _is_live(payload: bytes) -> bool:
    """The pickle calls builtins.open (checked from its opcodes, without unpickling it)."""
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(payload)]
    names = [str(arg).split()[-1] for name, arg in ops if name in ("GLOBAL", "SHORT_BINUNICODE")]
    return ("REDUCE", None) in ops and "open" in names


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_pickle_renamed_safetensors_is_never_unpickled(package: Path, how: str) -> None:
    marker = package.parent / "unpickled"
    trap = {"head.weight": _Trap(marker)}
    if how == "torch.save":
        buffer = io.BytesIO()
        torch.save(trap, buffer)
        data = buffer.getvalue()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert _is_live(zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl"))))
    else:
        data = pickle.dumps(trap, protocol=2)
        assert _is_live(data)
    (package / "model.safetensors").write_bytes(data)
    with pytest.raises(ValueError, match=r"pkg: model\.safetensors is not a safetensors file"):
        load_package(package)
    assert not marker.exists()


def test_absurd_header_size_allocates_nothing(package: Path) -> None:
    (package / "model.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}" * 8)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"declared header size 4611686018427387904"):
            load_package(package)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


@pytest.mark.parametrize("cut", [1, 100])
def test_truncated_weights(package: Path, cut: int) -> None:
    data = (package / "model.safetensors").read_bytes()
    (package / "model.safetensors").write_bytes(data[:-cut])
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_package(package)


def _rewrite(package: Path, edit: Callable[[dict[str, torch.Tensor]], None]) -> None:
    tensors = load_file(package / "model.safetensors")
    edit(tensors)
    save_file(tensors, package / "model.safetensors")


def test_shape_mismatch_names_the_tensor(package: Path) -> None:
    _rewrite(package, lambda t: t.update({"head.weight": torch.zeros(3, 5, 1, 1)}))
    with pytest.raises(ValueError, match=r"pkg: tensor 'head\.weight' has shape \(3, 5, 1, 1\)"):
        load_package(package)


def test_missing_and_extra_tensors(package: Path) -> None:
    _rewrite(package, lambda t: t.pop("head.bias"))
    with pytest.raises(ValueError, match=r"tensor 'head\.bias' is missing"):
        load_package(package)
    _rewrite(package, lambda t: t.update({"head.bias": torch.zeros(3), "extra": torch.ones(1)}))
    with pytest.raises(ValueError, match=r"unexpected tensor 'extra'"):
        load_package(package)
    _rewrite(package, lambda t: t.update({"head.bias": torch.zeros(3, dtype=torch.int64)}))
    t = load_file(package / "model.safetensors")
    t.pop("extra")
    save_file(t, package / "model.safetensors")
    with pytest.raises(ValueError, match=r"'head\.bias' has dtype I64"):
        load_package(package)


def test_weights_of_another_architecture(tmp_path: Path, model, make_card) -> None:
    """The card of one network with the weights of another (a different depth)."""
    a = save_package(model, make_card(model.config), tmp_path / "a")
    deeper = build_model(model.config.model_copy(update={"depth": 3}))
    b = save_package(deeper, make_card(deeper.config), tmp_path / "b")
    (a / "model.safetensors").write_bytes((b / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match=r"model package .*a: (unexpected )?tensor '"):
        load_package(a)


def _edit_card(package: Path, old: str, new: str) -> None:
    text = (package / "model.json").read_text()
    assert old in text
    (package / "model.json").write_text(text.replace(old, new))


def test_card_with_wrong_receptive_field(package: Path) -> None:
    _edit_card(package, '"receptive_field": 44', '"receptive_field": 45')
    with pytest.raises(ValueError, match=r"invalid model\.json: receptive_field is 45"):
        read_card(package)
    with pytest.raises(ValueError, match="receptive_field is 45"):
        load_package(package)


def test_unknown_architecture_kind(package: Path) -> None:
    _edit_card(package, '"kind": "unet"', '"kind": "vit"')
    with pytest.raises(ValueError, match=r"architecture\.kind: unknown architecture kind 'vit'"):
        load_package(package)


def test_card_that_is_not_json(package: Path) -> None:
    (package / "model.json").write_text("{ nope")
    with pytest.raises(ValueError, match=r"invalid model\.json"):
        read_card(package)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("evil", ["../evil", "a/../../evil", "/etc/evil", "C:/evil"])
def test_zip_with_escaping_member(tmp_path: Path, package: Path, evil: str) -> None:
    files = {n: (package / n).read_bytes() for n in ("model.json", "model.safetensors")}
    path = _zip(tmp_path / "evil.zip", {**files, evil: b"x"})
    for fn in (read_card, load_package):
        with pytest.raises(ValueError, match=f"refusing zip member {evil!r}"):
            fn(path)
    assert not (tmp_path.parent / "evil").exists()


def test_zip_without_the_two_members(tmp_path: Path, package: Path) -> None:
    card = (package / "model.json").read_bytes()
    only_card = _zip(tmp_path / "a.zip", {"model.json": card})
    with pytest.raises(ValueError, match=r"has no model\.safetensors at its top level"):
        load_package(only_card)
    nested = _zip(tmp_path / "b.zip", {"pkg/model.json": card, "pkg/model.safetensors": b""})
    with pytest.raises(ValueError, match=r"has no model\.json and no model\.safetensors"):
        read_card(nested)


def test_zip_with_pickle_weights(tmp_path: Path, package: Path) -> None:
    marker = tmp_path / "unpickled"
    data = pickle.dumps({"w": _Trap(marker)}, protocol=2)
    path = _zip(
        tmp_path / "p.zip",
        {"model.json": (package / "model.json").read_bytes(), "model.safetensors": data},
    )
    with pytest.raises(ValueError, match="not a safetensors file"):
        load_package(path)
    assert not marker.exists()


def test_corrupt_zip_member(tmp_path: Path, model, make_card) -> None:
    path = save_package(model, make_card(model.config), tmp_path / "m.zip")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("model.safetensors")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.file_size // 2] ^= 0xFF  # one byte of the tensor data: bad CRC
    path.write_bytes(bytes(data))
    assert read_card(path).name == "tiny"
    with pytest.raises(ValueError, match=r"cannot read model\.safetensors from the zip .*CRC"):
        load_package(path)


def test_not_a_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model package not found"):
        load_package(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"is not a model package: it has no model\.json"):
        read_card(tmp_path / "empty")
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a model package"):
        read_card(tmp_path / "x.zip")


def test_bad_device(package: Path) -> None:
    with pytest.raises(ValueError, match="device must name a torch device"):
        load_package(package, device="toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available"):
            load_package(package, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_load_onto_the_gpu(package: Path, model: UNet) -> None:
    loaded, _ = load_package(package, device="cuda")
    assert next(loaded.parameters()).device.type == "cuda"
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x.cuda()).cpu(), model(x), rtol=1e-4, atol=1e-4)
