"""Enhanced images I_e = I + alpha DT - beta DT_c (Hammoumi et al. 2021, eqs (4), (7), (10)),
whole-array and block-wise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as da
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from skimage.filters import threshold_otsu

from stratoseg._blocks import group_chunks
from stratoseg.enhance._distance import across, level_set_distances
from stratoseg.enhance._geodesic import geodesic_across, geodesic_distances
from stratoseg.workspace import default_chunks

__all__ = [
    "EnhanceParams",
    "EnhancePlan",
    "Globals",
    "bytes_per_voxel",
    "describe_params_error",
    "enhance_array",
    "enhance_volume",
    "global_values",
    "halo",
    "plan_enhance",
]


class EnhanceParams(BaseModel):
    """Parameters of an enhancement channel (saved with the channel and in model packages).

    Attributes
    ----------
    method : {"binary", "grayscale", "projected", "geodesic"}
        Eqs (1)-(4) on a thresholded image; (5)-(7) summed over ``levels`` level sets;
        (8)-(10) geodesic distance from the darkest and brightest voxels; (2) geodesic distance
        from the voxels below / above the threshold.
    alpha, beta : float >= 0
        Weights of ``DT`` and ``DT_c`` in ``I_e`` (the paper uses 1 and 1).
    threshold : float, optional
        Foreground threshold on the normalised image in [0, 1] (binary and geodesic); None =
        Otsu's threshold of the whole volume.
    levels : int >= 1
        Number of level sets for the grayscale method.
    gamma : float >= 0
        Geodesic factor of eq (2) (0 = Euclidean).
    max_distance : float > 0, optional
        Clip distances at this many physical units and scale them to [0, 1]. Clipped maps are
        local, so the block-wise computation is exact with a halo of this size; unclipped maps
        are computed on the whole array.
    mode : {"2d", "3d"}
        Distances within each z-slice, or in 3-D.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=True, allow_inf_nan=False
    )

    method: Literal["binary", "grayscale", "projected", "geodesic"] = "binary"
    alpha: float = Field(default=1.0, ge=0)
    beta: float = Field(default=1.0, ge=0)
    threshold: float | None = Field(default=None, ge=0, le=1)
    levels: int = Field(default=16, ge=1, le=4096)
    gamma: float = Field(default=1.0, ge=0)
    max_distance: float | None = Field(default=None, gt=0)
    mode: Literal["2d", "3d"] = "3d"


def describe_params_error(exc: BaseException, *, as_flags: bool = False) -> str:
    """One line naming each bad parameter and the value received (CLI and widget alike).

    Examples
    --------
    >>> try:
    ...     EnhanceParams(levels=0)
    ... except ValueError as exc:
    ...     print(describe_params_error(exc, as_flags=True))
    --levels input should be greater than or equal to 1, got 0
    """
    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for err in exc.errors():
        name = ".".join(map(str, err["loc"]))
        if as_flags:
            name = "--" + name.replace("_", "-")
        parts.append(f"{name} {err['msg'].lower()}, got {err['input']!r}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Globals:
    """Whole-volume values every block must share: the intensity range and the threshold."""

    lo: float
    hi: float
    threshold: float


def _normalise(image: np.ndarray, g: Globals) -> np.ndarray:
    """The image scaled to [0, 1] by the whole volume's range, as float32 (one table lookup
    for 8- and 16-bit images)."""
    span = g.hi - g.lo
    scale = 1.0 / (span if span > 0 else 1.0)
    if image.dtype.kind in "ub" and image.dtype.itemsize <= 2:
        info = np.iinfo(np.uint8 if image.dtype == bool else image.dtype)
        table = np.arange(info.min, info.max + 1, dtype=np.float64)
        table = np.clip((table - g.lo) * scale, 0.0, 1.0).astype(np.float32)
        return table[image.astype(np.intp) - info.min if info.min else image]
    out = (np.asarray(image, np.float64) - g.lo) * scale
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def global_values(image: np.ndarray | da.Array, params: EnhanceParams) -> Globals:
    """Intensity range and (Otsu) threshold of the whole volume, reading it once."""
    if image.dtype == bool:
        return Globals(0.0, 1.0, 0.5 if params.threshold is None else params.threshold)
    lo, hi = (float(v) for v in da.compute(image.min(), image.max()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("image contains NaN or infinite values; clean it before enhancing")
    threshold = params.threshold
    if threshold is None:
        if hi > lo:
            counts, edges = da.histogram(da.asarray(image), bins=256, range=(lo, hi))
            centres = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
            otsu = float(threshold_otsu(hist=(np.asarray(counts), centres)))
            threshold = (otsu - lo) / (hi - lo)  # on the image scaled to [0, 1]
        else:
            threshold = 0.5
    return Globals(lo, hi, threshold)


def halo(params: EnhanceParams, voxel_size: Sequence[float]) -> tuple[int, ...]:
    """Halo per axis for an exact block-wise result: ``max_distance`` in voxels (0 in z for
    2-D mode). Raises if the maps are not clipped (they are then not local)."""
    if params.max_distance is None:
        raise ValueError(
            "block-wise enhancement needs max_distance (unclipped distance maps "
            "depend on the whole volume)"
        )
    out = [math.ceil(params.max_distance / v) + 1 for v in voxel_size]
    if params.mode == "2d" and len(out) == 3:
        out[0] = 0
    return tuple(out)


@dataclass
class _Maps:
    """DT and DT_c of one array. Binary and geodesic maps have disjoint supports, so they are
    kept as one map ``both`` and the mask where it is DT (``dt = both [mask]``,
    ``dtc = both [~mask]``); the others as two maps."""

    dt: np.ndarray
    dtc: np.ndarray | None = None
    mask: np.ndarray | None = None

    def scale(self, factor: float) -> None:
        self.dt *= np.float32(factor)
        if self.dtc is not None:
            self.dtc *= np.float32(factor)

    def combined(self, alpha: float, beta: float) -> np.ndarray:
        """``alpha DT - beta DT_c`` as a new float32 array."""
        if self.mask is not None:
            out = np.where(self.mask, np.float32(alpha), np.float32(-beta))
            out *= self.dt
            return out
        assert self.dtc is not None
        out = self.dt * np.float32(alpha)
        out -= self.dtc * np.float32(beta)
        return out

    def separate(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mask is not None:
            zero = np.float32(0)
            return np.where(self.mask, self.dt, zero), np.where(self.mask, zero, self.dt)
        assert self.dtc is not None
        return self.dt, self.dtc


def bytes_per_voxel(params: EnhanceParams, ndim: int) -> float:
    """Peak working memory of :func:`enhance_array` per voxel (measured with tracemalloc):
    about 18 bytes for binary, 40 for grayscale, and for the geodesic graph 170 (2-D) or 400
    (3-D)."""
    if params.method in ("binary", "grayscale"):
        return 18.0 if params.method == "binary" else 40.0
    return 170.0 if params.mode == "2d" or ndim == 2 else 400.0


def _maps(
    img: np.ndarray,
    raw: np.ndarray,
    p: EnhanceParams,
    g: Globals,
    sampling: tuple[float, ...],
    seeds: np.ndarray | None,
) -> _Maps:
    """DT and DT_c of one array (one slice in 2-D mode), normalised to [0, 1] when clipped."""
    d = p.max_distance
    if p.method == "binary":
        fg = raw if raw.dtype == bool else img > np.float32(g.threshold)
        # eq (1): DT, the distance to I = 0 (nonzero on the foreground); eq (3): DT_c, the
        # distance to I = max (nonzero on the background)
        maps = _Maps(across(fg, sampling=sampling, max_distance=d), mask=fg)
    elif p.method == "grayscale":
        # F_i = {I >= i}: thresholds half a step below each level of the normalised image, so
        # an integer image with levels = its range is exact and immune to rounding
        levels = (np.arange(1, p.levels + 1) - 0.5) / p.levels
        dt, dtc = level_set_distances(img, levels.tolist(), sampling=sampling, max_distance=d)
        # eqs (5)-(6), averaged over the levels
        maps = _Maps((dt / p.levels).astype(np.float32), (dtc / p.levels).astype(np.float32))
    elif p.method == "projected":
        # eqs (8)-(9): from min(I) and from max(I), on one graph
        dt, dtc = geodesic_distances(
            img, [img <= 0.0, img >= 1.0], gamma=p.gamma, sampling=sampling, max_distance=d
        )
        maps = _Maps(dt.astype(np.float32), dtc.astype(np.float32))
    else:
        low = (seeds if seeds is not None else img <= np.float32(g.threshold)).astype(bool)
        both = geodesic_across(img, low, gamma=p.gamma, sampling=sampling, max_distance=d)
        maps = _Maps(both.astype(np.float32), mask=~low)
    if d is not None:
        maps.scale(1.0 / d)
    return maps


def enhance_array(
    image: np.ndarray,
    params: EnhanceParams | None = None,
    *,
    voxel_size: Sequence[float] | None = None,
    seeds: np.ndarray | None = None,
    globals_: Globals | None = None,
    return_maps: bool = False,
) -> Any:
    """The enhanced image ``I_e = I + alpha DT - beta DT_c`` (eqs 4, 7, 10) of a whole array.

    ``I`` is the image scaled to [0, 1] by the intensity range (``globals_``, by default the
    array's own). ``DT`` and ``DT_c`` are the method's two distance maps, in physical units (or
    clipped at ``max_distance`` and scaled to [0, 1]).

    Parameters
    ----------
    image : (Z, Y, X) or (Y, X) array
        Bool, integer or float image.
    params : EnhanceParams
        The method and its parameters (default: binary, Otsu, alpha = beta = 1).
    voxel_size : sequence of float, optional
        Spatial voxel size (anisotropy honoured); default 1 per axis.
    seeds : bool array, optional
        Geodesic method: the voxels ``DT`` starts from (``DT_c`` starts from the others);
        default: the voxels below the threshold.
    globals_ : Globals, optional
        Whole-volume range and threshold when ``image`` is one block of a larger volume.
    return_maps : bool
        Return ``(I_e, DT, DT_c)`` instead of ``I_e``.

    Returns
    -------
    float32 ndarray, same shape

    Examples
    --------
    >>> img = np.array([[0, 0, 1, 1, 1]], bool)
    >>> enhance_array(img, EnhanceParams(method="binary")).tolist()
    [[-2.0, -1.0, 2.0, 3.0, 4.0]]
    """
    p = params or EnhanceParams()
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"image must be 2-D or 3-D, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"image must be a bool, integer or float array, got dtype {arr.dtype}")
    if seeds is not None:
        seeds = np.asarray(seeds, bool)
        if seeds.shape != arr.shape:
            raise ValueError(f"seeds must have the image's shape {arr.shape}, got {seeds.shape}")
        if p.method != "geodesic":
            raise ValueError(f"seeds are for the geodesic method, got method {p.method!r}")
        if globals_ is None and (not seeds.any() or seeds.all()):  # a block may lack seeds
            raise ValueError(
                "seeds must mark some voxels and leave others unmarked, got an "
                f"{'all-zero' if not seeds.any() else 'all-one'} mask"
            )
    g = globals_ or global_values(arr, p)
    sampling = tuple(float(v) for v in ((1.0,) * arr.ndim if voxel_size is None else voxel_size))
    if len(sampling) != arr.ndim or not all(v > 0 for v in sampling):
        raise ValueError(f"voxel_size must be {arr.ndim} positive numbers, got {voxel_size!r}")
    img = arr.astype(np.float32) if arr.dtype == bool else _normalise(arr, g)
    out = np.empty(arr.shape, np.float32)
    dt = np.empty(arr.shape, np.float32) if return_maps else None
    dtc = np.empty(arr.shape, np.float32) if return_maps else None
    planes: list[tuple[Any, tuple[float, ...]]] = (
        [(z, sampling[1:]) for z in range(arr.shape[0])]
        if p.mode == "2d" and arr.ndim == 3
        else [(Ellipsis, sampling)]
    )
    for where, spacing in planes:
        s = None if seeds is None else seeds[where]
        maps = _maps(img[where], arr[where], p, g, spacing, s)
        combined = maps.combined(p.alpha, p.beta)
        combined += img[where]  # eq (4): I + alpha DT - beta DT_c
        out[where] = combined
        if dt is not None and dtc is not None:
            dt[where], dtc[where] = maps.separate()
    return (out, dt, dtc) if return_maps else out


@dataclass(frozen=True)
class EnhancePlan:
    """How a volume is enhanced block by block: what :func:`enhance_volume` computes, also
    usable one block at a time (a task of a cluster run, :meth:`block`).

    Attributes
    ----------
    image : dask.array.Array
        The volume, in its blocks (``image.chunks``).
    seeds : dask.array.Array or None
        The geodesic seeds as a bool mask in the same blocks.
    params : EnhanceParams
    globals_ : Globals
        The whole volume's range and threshold.
    sampling : tuple of float
        The voxel size.
    depth : tuple of int or None
        The halo read around each block; None when the maps are not local (one block).
    """

    image: da.Array
    seeds: da.Array | None
    params: EnhanceParams
    globals_: Globals
    sampling: tuple[float, ...]
    depth: tuple[int, ...] | None

    def _compute(self, b: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
        return enhance_array(b, self.params, voxel_size=self.sampling, globals_=self.globals_,
                             seeds=s)  # fmt: skip

    def regions(self) -> list[tuple[slice, ...]]:
        """The blocks, in C order of the block grid (the whole volume when the maps are not
        local)."""
        if self.depth is None:
            return [tuple(slice(0, int(n)) for n in self.image.shape)]
        edges = [np.cumsum((0, *c)) for c in self.image.chunks]
        return [
            tuple(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, index, strict=True))
            for index in np.ndindex(*self.image.numblocks)
        ]

    def block(self, region: tuple[slice, ...]) -> np.ndarray:
        """The enhanced values of one block, read with its halo (clipped at the volume's
        faces, as :func:`enhance_volume` does) and cropped: the same numbers as there."""
        depth = self.depth or (0,) * self.image.ndim
        ext = tuple(slice(max(s.start - h, 0), min(s.stop + h, n))
                    for s, h, n in zip(region, depth, self.image.shape, strict=True))  # fmt: skip
        read = [self.image[ext]] + ([] if self.seeds is None else [self.seeds[ext]])
        values = [np.asarray(v) for v in da.compute(*read, scheduler="synchronous")]
        out = self._compute(*values)
        return out[tuple(slice(s.start - e.start, s.stop - e.start)
                         for s, e in zip(region, ext, strict=True))]  # fmt: skip

    def lazy(self) -> da.Array:
        """The enhanced volume as a dask array in the same blocks."""
        inputs = [self.image] + ([] if self.seeds is None else [self.seeds])
        meta = np.empty((0,) * self.image.ndim, np.float32)
        if self.depth is None:
            whole = [a.rechunk(self.image.shape) for a in inputs]
            return da.map_blocks(self._compute, *whole, dtype=np.float32, meta=meta).rechunk(
                self.image.chunks
            )
        return da.map_overlap(self._compute, *inputs, depth=dict(enumerate(self.depth)),
                              boundary="none", dtype=np.float32, meta=meta)  # fmt: skip


def enhance_volume(
    data: np.ndarray | da.Array,
    params: EnhanceParams | None = None,
    *,
    voxel_size: Sequence[float] | None = None,
    chunks: int | Sequence[int] | None = None,
    seeds: np.ndarray | da.Array | None = None,
) -> da.Array:
    """The enhanced image of a (lazy) volume, block by block when the maps are clipped.

    Blocks are ``chunks`` when given, else whole chunks of ``data`` grouped under a memory
    budget (:func:`stratoseg._blocks.group_chunks` with :func:`bytes_per_voxel`), so halos
    cost little. Each block reads itself plus :func:`halo` voxels, computes
    :func:`enhance_array` with the whole volume's range and threshold (:func:`global_values`,
    one pass), and keeps its core, so the result equals :func:`enhance_array` of the whole
    array. Without ``max_distance`` the maps are not local: the volume is computed as one
    block (it must fit in memory).
    ``seeds`` (geodesic method): a mask of the volume's shape, read block by block with the
    same halo (e.g. a label image > 0).
    """
    return plan_enhance(data, params, voxel_size=voxel_size, chunks=chunks, seeds=seeds).lazy()


def plan_enhance(
    data: np.ndarray | da.Array,
    params: EnhanceParams | None = None,
    *,
    voxel_size: Sequence[float] | None = None,
    chunks: int | Sequence[int] | None = None,
    seeds: np.ndarray | da.Array | None = None,
) -> EnhancePlan:
    """The :class:`EnhancePlan` of :func:`enhance_volume` (same arguments); the whole
    volume's values are computed here (one pass over it)."""
    p = params or EnhanceParams()
    if isinstance(data, da.Array):
        arr = data
    else:
        array = np.asarray(data)
        if array.ndim not in (2, 3):
            raise ValueError(f"image must be 2-D or 3-D, got shape {array.shape}")
        arr = da.from_array(array, chunks=default_chunks(array.shape))
    if arr.ndim not in (2, 3):
        raise ValueError(f"image must be 2-D or 3-D, got shape {arr.shape}")
    sampling = tuple(float(v) for v in ((1.0,) * arr.ndim if voxel_size is None else voxel_size))
    if chunks is not None:
        arr = arr.rechunk(chunks)
    elif p.max_distance is not None:
        arr = arr.rechunk(
            group_chunks(
                arr.shape,
                tuple(int(c) for c in arr.chunksize),
                halo=halo(p, sampling),
                bytes_per_voxel=bytes_per_voxel(p, arr.ndim),
            )
        )
    g = global_values(arr, p)

    mask = None
    if seeds is not None:
        mask = (
            seeds
            if isinstance(seeds, da.Array)
            else da.from_array(seeds if hasattr(seeds, "shape") else np.asarray(seeds))
        )  # a zarr array stays lazy
        if tuple(mask.shape) != tuple(arr.shape):
            raise ValueError(f"seeds must have the image's shape {arr.shape}, got {mask.shape}")
        if p.method != "geodesic":
            raise ValueError(f"seeds are for the geodesic method, got method {p.method!r}")
        mask = mask.astype(bool).rechunk(arr.chunks)
        some, every = da.compute(mask.any(), mask.all())
        if not some or every:
            raise ValueError(
                "seeds must mark some voxels and leave others unmarked, got an "
                f"{'all-zero' if not some else 'all-one'} mask"
            )
    depth = None if p.max_distance is None else halo(p, sampling)
    return EnhancePlan(arr, mask, p, g, sampling, depth)
