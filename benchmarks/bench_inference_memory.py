"""Peak resident memory of ``stratoseg segment`` on a 512^3 and a 128^3 volume (issue 5).

Run: ``python benchmarks/bench_inference_memory.py`` (about six minutes on 2 cores). It
rewrites the "Inference memory" section of docs/benchmarks.md.

Each run is the command a user types, ``stratoseg segment WS --model PKG``, in a process of
its own, started from a small measuring process; its peak resident set size is the kernel's
(``ru_maxrss`` of the child, from ``os.wait4``), which counts everything: the Python
interpreter, torch's libraries, the network's activations and the blocks in flight.

Goal: the 512^3 run's peak at most 1.3x the 128^3 run's (memory follows the block, not the
volume). Measured for the 2-D and the 3-D networks of ``benchmarks/_models.py`` at the
default settings, and for the 2-D network with the same blocks and windows on both volumes;
and, for the floor under every run, a process that only imports torch and StratoSeg.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _models import describe, train
from _report import machine, write_section
from bench_inference import synthetic_workspace

SHAPES = ((128, 128, 128), (512, 512, 512))
STRATOSEG = str(Path(sys.executable).with_name("stratoseg"))


#: Runs a command and prints its peak resident KiB and exit status. The command is started
#: from this small process, not from the benchmark's: a child's ``ru_maxrss`` keeps the
#: resident size it had between fork and exec, which would be the (large) benchmark's.
_MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(child.pid, 0)
err = child.stderr.read().decode()
print(usage.ru_maxrss, status)
sys.stderr.write(err[-2000:] if status else "")
"""


def peak_mib(command: list[str]) -> tuple[float, float]:
    """Peak resident MiB of ``command`` run to completion, and its wall-clock seconds."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True,
                          text=True, check=True)  # fmt: skip
    seconds = time.perf_counter() - start
    kib, status = (int(v) for v in done.stdout.split())
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({status}): {done.stderr}")
    return kib / 1024, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("training ...", flush=True)
        packages = train(folder, ["2-D", "3-D"])
        print("workspaces ...", flush=True)
        spaces = {s: synthetic_workspace(folder, s, f"mem{s[0]}").path for s in SHAPES}
        floor, _ = peak_mib(
            [sys.executable, "-c", "import torch, stratoseg.inference, stratoseg.cli"]
        )
        same = ["--block", "64,128,128", "--window", "192"]
        cases = [
            ("2-D", "defaults", []),
            ("2-D", "block 64 x 128 x 128, window 192", same),
            ("3-D", "defaults", []),
        ]
        for name, label, extra in cases:
            peaks = []
            for shape in SHAPES:
                print(name, label, shape, flush=True)
                command = [STRATOSEG, "segment", str(spaces[shape]), "--model",
                           str(packages[name]), "--run", "mem", "--overwrite", *extra]  # fmt: skip
                peaks.append(peak_mib(command))
            (small, t_small), (large, t_large) = peaks
            rows.append(
                f"| {name} | {label} | {small:.0f} ({t_small:.0f} s) | {large:.0f} "
                f"({t_large:.0f} s) | {large / small:.2f} | {large - small:.0f} |"
            )
    lines = [
        "## Inference memory (`benchmarks/bench_inference_memory.py`)",
        "",
        f"Machine: {machine()}, CPU. Peak resident memory (the kernel's `ru_maxrss`) of "
        "`stratoseg segment WS --model PKG` in a process of its own, on synthetic composite "
        "workspaces of 128^3 and 512^3 uint8 voxels in 64^3 chunks (64 times the voxels). "
        "Goal: 512^3 at most 1.3 times 128^3. Networks:",
        "",
        *[f"- {describe(n)}" for n in packages],
        "",
        "| network | settings | 128^3: MiB (time) | 512^3: MiB (time) | ratio | difference, MiB |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Floor: a process that imports torch and StratoSeg's inference peaks at {floor:.0f} "
        "MiB (interpreter and libraries), before any network or data.",
    ]
    write_section("inference-memory", lines)


if __name__ == "__main__":
    main()
