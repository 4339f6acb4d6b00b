"""Block shapes: whole chunks grouped under a memory budget; the thread setting."""

from __future__ import annotations

import math

import pytest

from stratoseg._blocks import group_chunks
from stratoseg._threads import num_threads


@pytest.mark.parametrize(
    ("shape", "chunks", "halo", "bpv", "budget"),
    [
        ((512, 512, 512), (64, 64, 64), (9, 9, 9), 18.0, 512 * 2**20),
        ((300, 1000, 1000), (64, 100, 100), (9, 9, 9), 400.0, 512 * 2**20),
        ((2000, 3000), (256, 256), (11, 11), 40.0, 64 * 2**20),
        ((40, 90, 70), (16, 32, 32), (0, 5, 5), 18.0, 10**9),
    ],
)
def test_blocks_are_whole_chunks_within_the_budget(shape, chunks, halo, bpv, budget) -> None:
    block = group_chunks(shape, chunks, halo=halo, bytes_per_voxel=bpv, budget=budget)
    for b, c, s in zip(block, chunks, shape, strict=True):
        assert b == s or b % c == 0  # writes stay aligned to the storage chunks
        assert min(c, s) <= b <= s
    used = (
        math.prod(min(b + 2 * h, s + 2 * h) for b, h, s in zip(block, halo, shape, strict=True))
        * bpv
    )
    single = math.prod(min(c, s) + 2 * h for c, h, s in zip(chunks, halo, shape, strict=True)) * bpv
    assert used <= budget or block == tuple(min(c, s) for c, s in zip(chunks, shape, strict=True))
    # no axis could take one more chunk within the budget
    for i, (b, c, s) in enumerate(zip(block, chunks, shape, strict=True)):
        if b < s:
            trial = list(block)
            trial[i] = min(b + c, s)
            more = math.prod(
                min(x + 2 * h, y + 2 * h) for x, h, y in zip(trial, halo, shape, strict=True)
            )
            assert more * bpv > budget
    assert single > 0


def test_a_chunk_over_the_budget_is_kept_alone() -> None:
    assert group_chunks((100, 100), (50, 50), halo=(1, 1), bytes_per_voxel=1e6, budget=10) == (
        50,
        50,
    )


def test_axes_must_agree() -> None:
    with pytest.raises(ValueError, match="one entry per axis"):
        group_chunks((10, 10), (5,), halo=(1, 1), bytes_per_voxel=1)


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_bad_thread_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("STRATOSEG_NUM_THREADS", value)
    with pytest.raises(
        ValueError, match=f"STRATOSEG_NUM_THREADS must be a positive integer, got '{value}'"
    ):
        num_threads()


def test_threads_default_to_the_usable_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATOSEG_NUM_THREADS", raising=False)
    assert num_threads() >= 1
