"""Model packages: a folder (or a zip of its two files) with ``model.safetensors`` and
``model.json``. Weights are read with safetensors only: never ``torch.load``, never pickle.

torch is imported inside the functions that need it, so :func:`read_card` (and importing this
module) costs no torch import.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from stratoseg.io import atomic_output, check_output_path
from stratoseg.models._card import ModelCard, describe_card_error

if TYPE_CHECKING:
    import torch

    from stratoseg.models._unet import UNet

__all__ = ["CARD_FILE", "WEIGHTS_FILE", "load_package", "read_card", "save_package"]

CARD_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
#: Larger cards or safetensors headers are refused before anything is allocated for them.
MAX_CARD_BYTES = 16 * 2**20
MAX_HEADER_BYTES = 100_000_000  # the limit of the safetensors library itself
_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same model gives the same zip


def _is_zip_path(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def save_package(
    model: UNet, card: ModelCard, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``model``'s weights and ``card`` as a model package.

    Parameters
    ----------
    model : UNet
        The network; its ``config`` must equal ``card.architecture.config``.
    card : ModelCard
        The description written as ``model.json``.
    path : path
        A folder to create, or a ``.zip`` file (the two files at the top of the zip).
    overwrite : bool
        Replace an existing package of the same kind (folder or file).

    Returns
    -------
    Path
        ``path``. It appears only when complete (written under a temporary name, then renamed).

    Raises
    ------
    TypeError
        If ``model`` is not a UNet or ``card`` not a ModelCard.
    ValueError
        If the card does not describe the model.
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    from safetensors.torch import save

    from stratoseg.models._unet import UNet

    if not isinstance(model, UNet):
        raise TypeError(f"model must be a stratoseg UNet, got {type(model).__name__}")
    if not isinstance(card, ModelCard):
        raise TypeError(f"card must be a ModelCard, got {type(card).__name__}")
    if card.architecture.config != model.config:
        theirs, ours = card.architecture.config.model_dump(), model.config.model_dump()
        diff = ", ".join(f"{k}: {theirs[k]!r} vs {ours[k]!r}" for k in ours if theirs[k] != ours[k])
        raise ValueError(f"card.architecture.config does not describe the model ({diff})")
    text = card.model_dump_json(indent=2) + "\n"
    ModelCard.model_validate_json(text)  # nested dicts may have been edited in place
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    data = save(tensors, metadata={"format": "pt"})  # one key: safetensors orders a map randomly

    out = Path(path)
    is_zip = _is_zip_path(out)
    kind: Literal["file", "folder"] = "file" if is_zip else "folder"
    check_output_path(out, overwrite=overwrite, name="model package", kind=kind)
    with atomic_output(out) as tmp:
        if is_zip:
            with zipfile.ZipFile(tmp, "w") as zf:
                info = zipfile.ZipInfo(CARD_FILE, _ZIP_DATE)
                zf.writestr(info, text, compress_type=zipfile.ZIP_DEFLATED)
                info = zipfile.ZipInfo(WEIGHTS_FILE, _ZIP_DATE)
                zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)
        else:
            tmp.mkdir()
            (tmp / CARD_FILE).write_text(text)
            (tmp / WEIGHTS_FILE).write_bytes(data)
    return out


class _Package:
    """Read access to the two files of a package folder or zip (members read in place)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            for name in (CARD_FILE, WEIGHTS_FILE):
                if not (self.path / name).is_file():
                    raise ValueError(f"{self.path} is not a model package: it has no {name}")
        elif self.path.is_file():
            try:
                self.zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile:
                raise ValueError(
                    f"{self.path} is not a model package (a folder with {CARD_FILE} and "
                    f"{WEIGHTS_FILE}, or a zip of those two files)"
                ) from None
            self._check_members()
        else:
            raise FileNotFoundError(f"model package not found: {self.path}")

    def _check_members(self) -> None:
        assert self.zip is not None
        names = self.zip.namelist()
        for name in names:
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                self.close()
                raise ValueError(
                    f"model package {self.path}: refusing zip member {name!r} "
                    "(absolute path or '..')"
                )
        missing = [n for n in (CARD_FILE, WEIGHTS_FILE) if n not in names]
        if missing:
            self.close()
            raise ValueError(
                f"model package {self.path}: the zip has no {' and no '.join(missing)} at its "
                f"top level (members: {names[:10]})"
            )

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def __enter__(self) -> _Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def size(self, name: str) -> int:
        if self.zip is not None:
            return self.zip.getinfo(name).file_size
        return (self.path / name).stat().st_size

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self.zip is not None:
            try:
                with self.zip.open(name) as f:
                    yield f
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise ValueError(
                    f"model package {self.path}: cannot read {name} from the zip ({exc})"
                ) from None
        else:
            with open(self.path / name, "rb") as f:
                yield f

    def card(self) -> ModelCard:
        size = self.size(CARD_FILE)
        if size > MAX_CARD_BYTES:
            raise ValueError(f"model package {self.path}: {CARD_FILE} is too large ({size} bytes)")
        with self.open(CARD_FILE) as f:
            text = f.read(size)  # read(n) may allocate n bytes up front: never more than size
        try:
            return ModelCard.model_validate_json(text)
        except ValidationError as exc:
            raise ValueError(
                f"model package {self.path}: invalid {CARD_FILE}: {describe_card_error(exc)}"
            ) from None

    def weights_header(self) -> tuple[dict[str, Any], int]:
        """The safetensors header (tensor name -> dtype, shape, offsets) and its size, checked
        against the file size before anything the file declares is read or allocated."""
        size = self.size(WEIGHTS_FILE)
        bad = f"model package {self.path}: {WEIGHTS_FILE} is not a safetensors file"
        with self.open(WEIGHTS_FILE) as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if n < 2 or n > size - 8 or n > MAX_HEADER_BYTES:
                raise ValueError(f"{bad} (declared header size {n}, file size {size} bytes)")
            raw = f.read(n)
        try:
            header = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            header = None
        if not isinstance(header, dict):
            raise ValueError(f"{bad} (its header is not a JSON object)")
        end = 0
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            try:
                end = max(end, int(entry["data_offsets"][1]))
                entry["shape"] = [int(s) for s in entry["shape"]]
                entry["dtype"] = str(entry["dtype"])
            except (TypeError, KeyError, IndexError, ValueError):
                raise ValueError(f"{bad} (bad header entry for {key!r})") from None
        if end != size - 8 - n:
            raise ValueError(f"{bad} (its tensors end at byte {end}, its data has {size - 8 - n})")
        return header, n

    def load_weights(self) -> dict[str, torch.Tensor]:
        from safetensors import SafetensorError
        from safetensors.torch import load, load_file

        try:
            if self.zip is None:
                return load_file(self.path / WEIGHTS_FILE, device="cpu")
            with self.open(WEIGHTS_FILE) as f:
                return load(f.read(self.size(WEIGHTS_FILE)))
        except SafetensorError as exc:
            raise ValueError(
                f"model package {self.path}: {WEIGHTS_FILE} is not a safetensors file ({exc})"
            ) from None


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """The card (``model.json``) of a package folder or zip, without reading the weights.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not a package, or the card is invalid (naming the field).
    """
    with _Package(path) as pkg:
        return pkg.card()


def _check_tensors(where: Path, header: dict[str, Any], model: UNet) -> None:
    expected = {k: (tuple(v.shape), v.is_floating_point()) for k, v in model.state_dict().items()}
    found = {k: v for k, v in header.items() if k != "__metadata__"}
    for name in expected:
        if name not in found:
            raise ValueError(
                f"model package {where}: tensor {name!r} is missing from {WEIGHTS_FILE} "
                f"(the architecture in {CARD_FILE} needs {len(expected)} tensors)"
            )
    for name, entry in found.items():
        if name not in expected:
            raise ValueError(
                f"model package {where}: unexpected tensor {name!r} in {WEIGHTS_FILE} "
                f"(not part of the architecture in {CARD_FILE})"
            )
        shape, floating = expected[name]
        if tuple(entry["shape"]) != shape:
            raise ValueError(
                f"model package {where}: tensor {name!r} has shape {tuple(entry['shape'])}, "
                f"the architecture in {CARD_FILE} expects {shape}"
            )
        if floating != (entry["dtype"] in _FLOAT_DTYPES):
            raise ValueError(
                f"model package {where}: tensor {name!r} has dtype {entry['dtype']}, expected "
                f"{'a float' if floating else 'an integer'} type"
            )


def load_package(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[UNet, ModelCard]:
    """Build the network of a package and load its weights (safetensors only, ``strict``).

    Parameters
    ----------
    path : path
        A package folder or zip (see :func:`stratoseg.models.resolve_model` for names).
    device : str or torch.device
        Where to put the network.

    Returns
    -------
    model : UNet
        In eval mode, on ``device``.
    card : ModelCard
        Its card.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not a package, the card is invalid, ``model.safetensors`` is not a safetensors
        file (a renamed pickle, say: it is never unpickled), or a tensor is missing, unexpected
        or of the wrong shape (the message names the package and the tensor).
    """
    import torch

    from stratoseg.models._unet import build_model

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must name a torch device such as 'cpu', got {device!r}") from None
    with _Package(path) as pkg:
        card = pkg.card()
        header, _ = pkg.weights_header()
        model = build_model(card.architecture.config)
        _check_tensors(pkg.path, header, model)
        state = pkg.load_weights()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # caught above already; kept so nothing slips through
        raise ValueError(f"model package {pkg.path}: {exc}") from None
    try:
        model = model.to(dev)
    except (RuntimeError, AssertionError) as exc:  # AssertionError: torch built without CUDA
        raise ValueError(f"device {device!r} is not available ({exc})") from None
    return model.eval(), card
