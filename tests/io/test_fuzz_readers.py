"""Fuzzing the readers: arbitrary and damaged files give a documented error, nothing else.

Every reader (``open_volume`` for TIFF, HDF5, zarr and MRC, and the napari reader) is fed
arbitrary bytes and mutated valid files (bytes flipped, files cut short). Opening the file and
reading its data must either work or raise one of the errors ``open_volume`` documents
(:class:`ValueError`, :class:`TypeError`, :class:`OSError` and its subclasses such as
:class:`FileNotFoundError`) with a message; never another exception type, never a hang
(:data:`SECONDS` per example), never a large allocation (:data:`PEAK_BYTES`, by
``tracemalloc``). ``get_reader`` never raises at all: it answers None for what it cannot read.

The default run is short and deterministic (``EXAMPLES`` = 60 examples per property, the same
ones every time). For a soak in CI set ``STRATOSEG_FUZZ_EXAMPLES``, e.g. to 5000: the examples
are then drawn at random, new ones on every run.

Headers that declare absurd shapes (a zarr.json, a TIFF and an MRC header) are checked at the
end: ``open_volume``, ``stratoseg info`` and ``stratoseg import`` refuse them before allocating
anything.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import mrcfile
import numpy as np
import pytest
import tifffile
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratoseg.cli import main
from stratoseg.io import open_volume
from stratoseg.napari import get_reader

EXAMPLES = int(os.environ.get("STRATOSEG_FUZZ_EXAMPLES", "60"))
SECONDS = 20
PEAK_BYTES = 256 * 2**20
#: What the readers may raise (OSError covers FileNotFoundError and PermissionError).
DOCUMENTED = (ValueError, TypeError, OSError)

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the checkout
    derandomize="STRATOSEG_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class _Hang(BaseException):
    """A read took longer than :data:`SECONDS` (not an Exception: no handler may turn it into
    a documented error)."""


@contextmanager
def _bounded() -> Iterator[None]:
    """Fail on a hang or a large allocation inside the block."""

    def alarm(signum: int, frame: Any) -> None:
        raise _Hang(f"a read took more than {SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(SECONDS)
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
        assert peak < PEAK_BYTES, f"a read allocated {peak / 2**20:.0f} MiB"
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _read(path: Path) -> None:
    """Open ``path``, read its first block, and ask the napari reader: documented errors only."""
    error: Exception | None = None
    with _bounded():
        try:
            vol = open_volume(path)
            first = vol.data.blocks[(0,) * vol.ndim]  # at most about 64 MiB
            np.asarray(first.compute())
        except DOCUMENTED as exc:
            error = exc
        reader = get_reader(str(path))  # never raises: None for what it cannot read
    assert error is None or str(error).strip(), f"{type(error).__name__} without a message"
    assert reader is None or callable(reader)


def _valid_tiff(d: Path, *, compression: str | None) -> bytes:
    a = np.arange(3 * 16 * 16, dtype=np.uint16).reshape(3, 16, 16)
    tifffile.imwrite(d / "v.tif", a, compression=compression, photometric="minisblack")
    return (d / "v.tif").read_bytes()


def _valid_mrc(d: Path) -> bytes:
    with mrcfile.new(d / "v.mrc") as m:
        m.set_data(np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8))
        m.voxel_size = 2.0
    return (d / "v.mrc").read_bytes()


def _valid_h5(d: Path) -> bytes:
    with h5py.File(d / "v.h5", "w") as f:
        f.create_dataset("x", data=np.ones((3, 8, 8), np.uint8), chunks=(1, 8, 8))
    return (d / "v.h5").read_bytes()


def _valid_zarr(d: Path) -> tuple[dict[str, Any], bytes]:
    z = zarr.create_array(store=str(d / "v.zarr"), shape=(3, 8, 8), chunks=(3, 8, 8), dtype="u2")
    z[...] = np.arange(3 * 8 * 8, dtype=np.uint16).reshape(3, 8, 8)
    meta = json.loads((d / "v.zarr" / "zarr.json").read_text())
    return meta, (d / "v.zarr" / "c" / "0" / "0" / "0").read_bytes()


def _mutate(data: bytes, flips: list[tuple[int, int]], cut: float | None) -> bytes:
    """``data`` with byte ``i % len`` xor'ed with ``x`` for each flip, then cut to ``cut``."""
    out = bytearray(data)
    for i, x in flips:
        out[i % len(out)] ^= x or 1
    return bytes(out[: int(len(out) * cut)] if cut is not None else out)


FLIPS = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=8)
CUT = st.none() | st.floats(0.0, 1.0)
TIFF_MAGIC = st.sampled_from([b"", b"II*\x00", b"MM\x00*", b"II+\x00\x08\x00\x00\x00"])


def _in_temp(fn: Callable[[Path], None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fn(Path(tmp))


@FUZZ
@given(head=TIFF_MAGIC, body=st.binary(max_size=2048))
def test_arbitrary_bytes_as_tiff(head: bytes, body: bytes) -> None:
    def check(d: Path) -> None:
        (d / "a.tif").write_bytes(head + body)
        _read(d / "a.tif")

    _in_temp(check)


@FUZZ
@given(
    compression=st.sampled_from([None, "zlib"]), flips=FLIPS, cut=CUT
)  # a mutated valid TIFF: damaged tags, offsets, strips
def test_mutated_tiff(
    compression: str | None, flips: list[tuple[int, int]], cut: float | None
) -> None:
    def check(d: Path) -> None:
        data = _mutate(_valid_tiff(d, compression=compression), flips, cut)
        (d / "m.tif").write_bytes(data)
        _read(d / "m.tif")

    _in_temp(check)


@FUZZ
@given(body=st.binary(max_size=4096), flips=FLIPS, cut=CUT, mutate=st.booleans())
def test_arbitrary_and_mutated_mrc(
    body: bytes, flips: list[tuple[int, int]], cut: float | None, mutate: bool
) -> None:
    def check(d: Path) -> None:
        data = _mutate(_valid_mrc(d), flips, cut) if mutate else body
        (d / "m.mrc").write_bytes(data)
        _read(d / "m.mrc")

    _in_temp(check)


@FUZZ
@given(body=st.binary(max_size=4096), flips=FLIPS, cut=CUT, mutate=st.booleans())
def test_arbitrary_and_mutated_hdf5(
    body: bytes, flips: list[tuple[int, int]], cut: float | None, mutate: bool
) -> None:
    def check(d: Path) -> None:
        data = _mutate(_valid_h5(d), flips, cut) if mutate else b"\x89HDF\r\n\x1a\n" + body
        (d / "m.h5").write_bytes(data)
        _read(d / "m.h5")

    _in_temp(check)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ZARR_FIELDS = st.sampled_from(
    ["shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value", "codecs",
     "zarr_format", "node_type", "dimension_names", "attributes"]
)  # fmt: skip


@FUZZ
@given(
    changes=st.dictionaries(ZARR_FIELDS, JSON, max_size=3),
    chunk=st.none() | st.binary(max_size=512),
    flips=FLIPS,
    cut=CUT,
)
def test_mutated_zarr_metadata_and_chunk(
    changes: dict[str, Any], chunk: bytes | None, flips: list[tuple[int, int]], cut: float | None
) -> None:
    def check(d: Path) -> None:
        meta, valid_chunk = _valid_zarr(d)
        meta.update(changes)
        (d / "v.zarr" / "zarr.json").write_text(json.dumps(meta))
        chunk_file = d / "v.zarr" / "c" / "0" / "0" / "0"
        chunk_file.write_bytes(_mutate(valid_chunk, flips, cut) if chunk is None else chunk)
        _read(d / "v.zarr")

    _in_temp(check)


@FUZZ
@given(text=st.binary(max_size=1024), flips=FLIPS, cut=CUT, mutate=st.booleans())
def test_arbitrary_and_mutated_zarr_json_bytes(
    text: bytes, flips: list[tuple[int, int]], cut: float | None, mutate: bool
) -> None:
    def check(d: Path) -> None:
        _valid_zarr(d)
        meta = d / "v.zarr" / "zarr.json"
        meta.write_bytes(_mutate(meta.read_bytes(), flips, cut) if mutate else text)
        _read(d / "v.zarr")

    _in_temp(check)


MULTISCALES_FIELDS = st.sampled_from(["axes", "datasets", "coordinateTransformations", "name"])


@FUZZ
@given(
    changes=st.dictionaries(MULTISCALES_FIELDS, JSON, max_size=2),
    stratoseg=st.none() | st.dictionaries(st.sampled_from(["mode", "source", "voxel_size"]), JSON),
)
def test_mutated_ome_zarr_multiscales(changes: dict[str, Any], stratoseg: dict | None) -> None:
    """An OME-Zarr group (NGFF 0.5) whose multiscales entry, or whose workspace attributes,
    are damaged; opened as the group and as its array."""

    def check(d: Path) -> None:
        group = zarr.open_group(str(d / "o.zarr"), mode="w")
        group.create_array("0", data=np.ones((2, 8, 8), np.uint8))
        ms = {"axes": [{"name": a, "type": "space"} for a in "zyx"],
              "datasets": [{"path": "0", "coordinateTransformations": [
                  {"type": "scale", "scale": [1.0, 1.0, 1.0]}]}]}  # fmt: skip
        ms.update(changes)
        attrs: dict[str, Any] = {"ome": {"version": "0.5", "multiscales": [ms]}}
        if stratoseg is not None:
            attrs["stratoseg"] = stratoseg
        group.attrs.update(attrs)
        _read(d / "o.zarr")
        _read(d / "o.zarr" / "0")

    _in_temp(check)


# --- headers that declare absurd shapes -------------------------------------------------------

HUGE = (10**12, 10**12, 10**12)


def _huge_zarr(d: Path) -> Path:
    zarr.create_array(store=str(d / "huge.zarr"), shape=HUGE, chunks=(64, 64, 64), dtype="u1")
    return d / "huge.zarr"


def _huge_tiff(d: Path) -> Path:
    """A valid one-page TIFF whose ImageLength and ImageWidth tags say 2**31 - 1."""
    tifffile.imwrite(d / "h.tif", np.zeros((8, 8), np.uint8))
    data = bytearray((d / "h.tif").read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for k in range(count):
        entry = ifd + 2 + 12 * k
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):  # ImageWidth, ImageLength
            fmt = "<H" if kind == 3 else "<I"
            struct.pack_into(fmt, data, entry + 8, 2**15 - 1 if kind == 3 else 2**31 - 1)
    (d / "h.tif").write_bytes(bytes(data))
    return d / "h.tif"


def _huge_mrc(d: Path) -> Path:
    """An MRC header declaring 2**30 voxels per axis, with 8 x 8 x 3 voxels of data."""
    data = bytearray(_valid_mrc(d))
    struct.pack_into("<3i", data, 0, 2**30, 2**30, 2**30)
    (d / "h.mrc").write_bytes(bytes(data))
    return d / "h.mrc"


@pytest.mark.parametrize("make", [_huge_zarr, _huge_tiff, _huge_mrc])
def test_absurd_declared_shapes_are_refused_before_allocating(
    make: Callable[[Path], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=str(path.name)):
            open_volume(path)
        for argv in (["info", str(path)], ["import", str(path), "-o", str(tmp_path / "w.zarr")]):
            assert main(argv) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1, err
            assert err[0].startswith("error: ")
            assert path.name in err[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB allocated"
    assert not (tmp_path / "w.zarr").exists()


def test_a_large_zarr_declared_within_bounds_imports_by_reference_lazily(tmp_path: Path) -> None:
    """10^5 voxels per axis (a petabyte, no chunk written): the import references it, reads
    nothing, and allocates nothing of its size."""
    zarr.create_array(
        store=str(tmp_path / "big.zarr"), shape=(10**5,) * 3, chunks=(64,) * 3, dtype="u1"
    )
    tracemalloc.start()
    try:
        vol = open_volume(tmp_path / "big.zarr")
        code = main(["import", str(tmp_path / "big.zarr"), "-o", str(tmp_path / "w.zarr")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert vol.shape == (10**5,) * 3
    assert code == 0
    assert not (tmp_path / "big.zarr" / "c").exists()  # no chunk was written, nor read
    assert not (tmp_path / "w.zarr" / "0").exists()  # referenced, not copied
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB allocated"
