"""Load: ``stratoseg segment`` on a 2 GiB volume, in one process and on 2 dask workers (issue 9).

Run: ``python benchmarks/bench_load.py`` (on 2 cores about 32 minutes for the two runs, plus
15-40 for generating the volume, which ``--volume`` skips; ``--shape Z Y X`` for another size).
It rewrites the "Load" section of docs/benchmarks.md.

1. A synthetic composite of 2048 x 1024 x 1024 uint8 voxels (2 GiB) is generated lazily, block
   by block, by ``stratoseg synth`` into a zarr (64^3 chunks); the volume is never in memory.
2. ``stratoseg segment`` runs the tests' small 2-D network (depth 2, 8 filters, trained here
   for seconds) over it twice, as a user types it: in one process, then with
   ``--workers 2`` (a 2-worker ``LocalCluster``), each into its own prediction run and label
   image of one workspace that references the zarr.
3. Peak memory is the largest sum of the resident set sizes of the command's whole process
   tree (the command, and for the cluster its nannies and workers), sampled every 0.1 s,
   next to the kernel's ``ru_maxrss`` of the command's own process. Goal: under 2 GB.
4. The two runs' chunk files (probabilities and labels) are compared byte for byte.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _models import train_tiny_model  # the tests' training loop (tests/ is on the path)
from _report import machine, write_section

from stratoseg.models import UNetConfig

STRATOSEG = str(Path(sys.executable).with_name("stratoseg"))
SHAPE = (2048, 1024, 1024)
CHUNKS = 64


def run_measured(command: list[str]) -> dict[str, float]:
    """Run ``command``; its wall seconds, the peak summed RSS of its process tree (MiB) and the
    kernel's ``ru_maxrss`` of the command's own process (MiB, from ``os.wait4``)."""
    import psutil

    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = psutil.Process(child.pid)
    peak = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        total = 0
        try:
            tree = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            tree = []
        for p in tree:
            with contextlib.suppress(psutil.Error):  # a process that has just ended
                total += p.memory_info().rss
        peak = max(peak, total)
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with status {child.returncode}")
    return {"seconds": seconds, "peak_mib": peak / 2**20, "maxrss_mib": usage.ru_maxrss / 1024}


def same_files(a: Path, b: Path) -> tuple[bool, int]:
    """Whether two zarr arrays' folders hold the same chunk files, byte for byte; how many."""
    names_a = sorted(
        p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.name != "zarr.json"
    )
    names_b = sorted(
        p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.name != "zarr.json"
    )
    if names_a != names_b:
        return False, len(names_a)
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names_a), len(names_a)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=SHAPE)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    parser.add_argument(
        "--volume",
        metavar="ZARR",
        help="a volume made earlier by `stratoseg synth composite`"
        " (of --shape, 64^3 chunks), instead of generating it again (it takes a while)",
    )
    args = parser.parse_args()
    shape = tuple(args.shape)
    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        d = Path(tmp)
        model = train_tiny_model(d / "load-2d.zip", name="load-2d", config=UNetConfig(
            spatial_dims=2, in_channels=1, out_channels=3, depth=2, base_filters=8))  # fmt: skip
        src = Path(args.volume) if args.volume else d / "volume.zarr"
        t = time.perf_counter()
        if not args.volume:
            subprocess.run([STRATOSEG, "synth", "composite", "-o", str(src), "--shape",
                            *map(str, shape), "--chunks", str(CHUNKS)], check=True,
                           capture_output=True)  # fmt: skip
        synth_s = time.perf_counter() - t
        ws = d / "ws.zarr"
        subprocess.run([STRATOSEG, "import", str(src), "-o", str(ws), "--reference",
                        "--no-labels"], check=True, capture_output=True)  # fmt: skip
        voxels = shape[0] * shape[1] * shape[2]
        rows = []
        for run, extra in (("one", []), ("two", ["--workers", "2"])):
            cmd = [STRATOSEG, "segment", str(ws), "--model", str(model), "--device", "cpu",
                   "--run", run, "--labels", run, *extra]  # fmt: skip
            m = run_measured(cmd)
            m["mvox_s"] = voxels / m["seconds"] / 1e6
            rows.append((run, extra, m))
            print(run, m, flush=True)
        same_p, n_p = same_files(ws / "predictions" / "one", ws / "predictions" / "two")
        same_l, n_l = same_files(ws / "labels" / "one", ws / "labels" / "two")
    gib = voxels / 2**30
    lines = [
        "## Load: a 2 GiB volume, one process and 2 dask workers (issue 9)",
        "",
        f"`python benchmarks/bench_load.py`, {machine()}. A synthetic composite of "
        f"{' x '.join(map(str, shape))} uint8 voxels ({gib:.2f} GiB), generated lazily by "
        f"`stratoseg synth` into a zarr of {CHUNKS}^3 chunks"
        + (f" ({synth_s:.0f} s)" if not args.volume else " (made beforehand)")
        + " and referenced by a workspace; `stratoseg segment` with a small 2-D network "
        "(depth 2, 8 filters), the defaults (crop tiling, uint8 probabilities, MAP labels). "
        "Peak memory: the largest sum "
        "of the resident sets of the command's process tree (with the cluster: the command, "
        "the nannies and the workers), sampled every 0.1 s; `ru_maxrss`: the kernel's peak of "
        "the largest single process. Goal: under 2 GB.",
        "",
        "| run | wall, s | Mvoxel/s | peak memory, MiB (process tree) | ru_maxrss, MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for _, extra, m in rows:
        label = "one process" if not extra else "`--workers 2` (LocalCluster)"
        lines.append(f"| {label} | {m['seconds']:.0f} | {m['mvox_s']:.2f} | "
                     f"{m['peak_mib']:.0f} | {m['maxrss_mib']:.0f} |")  # fmt: skip
    ratio = rows[0][2]["seconds"] / rows[1][2]["seconds"]
    lines += [
        "",
        f"The 2-worker run took {1 / ratio:.2f}x the time of one process (on 2 cores the "
        "workers share the same CPUs; a cluster adds machines, not cores here). Output "
        f"byte-identical: probabilities {'yes' if same_p else 'NO'} ({n_p} chunk files), "
        f"labels {'yes' if same_l else 'NO'} ({n_l} chunk files).",
    ]
    write_section("load", lines)
    return 0 if same_p and same_l else 1


if __name__ == "__main__":
    sys.exit(main())
