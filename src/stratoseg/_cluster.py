"""A ``dask.distributed`` client for a job: an existing scheduler, or a local cluster.

``stratoseg segment --scheduler ADDRESS`` connects to a scheduler that is already running (a
SLURM or Kubernetes cluster started with dask-jobqueue or dask-kubernetes, or
``dask scheduler`` by hand); ``--workers N`` starts a ``LocalCluster`` of N worker processes
with one task thread each and the machine's CPUs shared out among them
(``STRATOSEG_NUM_THREADS``), closed at the end of the job. See ``docs/scaling.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stratoseg._threads import ENV, num_threads

__all__ = ["check_visible", "cluster_client", "run_on_cluster"]


@contextmanager
def cluster_client(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    echo: Callable[[str], None] = print,
    timeout: float = 10.0,
) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``) or for a new local cluster of ``workers`` processes; None when
    neither is given (the job runs in this process). The dashboard link is echoed."""
    if scheduler is not None and workers is not None:
        raise ValueError("give either a scheduler address or a number of workers, not both")
    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if scheduler is None and workers is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConnectionError(
                f"cannot reach the dask scheduler at {scheduler!r}: {exc}"
            ) from None
        with _quiet(), client, _lost_scheduler(client, scheduler):  # quiet while it closes
            echo(f"dask dashboard: {client.dashboard_link}")
            yield client
        return
    n = int(workers or 1)
    # the CPUs shared out: each worker's torch and chunk writers get their part, not them all
    env = {ENV: str(max(1, num_threads() // n))}
    with (
        _quiet(),
        LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                     dashboard_address=":0", silence_logs=40, env=env) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        echo(f"dask dashboard: {client.dashboard_link} ({workers} local workers)")
        yield client


@contextmanager
def _quiet() -> Iterator[None]:
    """distributed's client-side log records (tracebacks of lost connections, retries) kept
    off the terminal while the job runs: failures reach the user as one error line, and the
    workers' own logs are on the dashboard."""
    loggers = [logging.getLogger(f"distributed{part}")
               for part in ("", ".client", ".core", ".comm", ".batched", ".utils")]  # fmt: skip
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def _lost_scheduler(client: Any, address: str) -> Iterator[None]:
    """A job that fails because the scheduler went away says so (and how to continue)."""
    try:
        yield
    except Exception as exc:
        lost = "connection-lost" in str(exc) or client.status not in ("running", "connecting")
        if not lost or isinstance(exc, ConnectionError):
            raise
        raise ConnectionError(
            f"lost the connection to the dask scheduler at {address!r} "
            f"({type(exc).__name__}); the blocks finished so far are kept: start the "
            "scheduler again and rerun the command with --resume (segment) or as it was"
        ) from None


def check_visible(array: Any) -> None:
    """Refuse to write where the driver's zarr array is not: a worker without the shared
    storage would read zeros and write to its own disk, and the run would look finished."""
    root = getattr(getattr(array, "store", None), "root", None)
    if array is None or root is None:
        return
    meta = Path(root) / array.path / "zarr.json"
    if not meta.is_file():
        import socket

        raise FileNotFoundError(
            f"worker on {socket.gethostname()} cannot see the workspace array {meta}: the "
            "workspace must be on storage every worker sees, at the same absolute path"
        )


def run_on_cluster(
    client: Any,
    fn: Callable[[Any, int, Any], Any],
    shared: Any,
    todo: Sequence[tuple[int, Any]],
    stop: Callable[[], None],
    *,
    name: str,
    resources: dict[str, float] | None = None,
    wait_for_workers: float = 600.0,
    settle: float = 300.0,
) -> Iterator[tuple[int, Any]]:
    """Run ``fn(shared, index, item)`` for each ``(index, item)`` of ``todo`` (one task per
    block; ``item`` is its region, or whatever small value the block needs) on ``client``'s
    cluster and yield ``(index, result)`` as each task returns.

    ``name`` prefixes the task keys (make it unique per run: a rerun must never be answered
    by a cached result). Waits up to ``wait_for_workers`` seconds for a first worker (queued
    batch jobs may start late). ``shared`` goes by value with each task: it must be small
    (array handles, paths, parameters), and then it is never lost with a worker. Tasks are not
    pure (each writes), are retried twice on a failure (a lost worker's task reruns
    elsewhere and writes the same bytes) and ask for ``resources`` (e.g. ``{"GPU": 1}``). On
    an error or a stop, the tasks not yet finished are cancelled, and the exception goes on
    once the tasks already running (dask cannot interrupt them) have ended, up to
    ``settle`` seconds: the caller may then remove what they write into.
    """
    from distributed import as_completed

    if not todo:
        return
    client.wait_for_workers(1, timeout=wait_for_workers)
    futures = [
        client.submit(_synchronously, fn, shared, index, item, key=f"{name}-block-{index}",
                      pure=False, retries=2, resources=resources)
        for index, item in todo
    ]  # fmt: skip
    prefix = f"{name}-block-"
    try:
        # the client's own loop: it need not be the default client
        for future in as_completed(futures, loop=client.loop):
            stop()
            index, result = future.result()
            yield index, result
    finally:
        unfinished = not all(f.done() for f in futures)
        client.cancel(futures)
        if unfinished:
            _wait_for_running(client, prefix, settle)


def _wait_for_running(client: Any, prefix: str, timeout: float) -> None:
    """Wait until no worker is executing a task whose key starts with ``prefix`` (a cancelled
    task that was running goes on to its end), for up to ``timeout`` seconds; return at once
    when the cluster cannot be asked (the scheduler is gone)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            running = client.run(_executing, prefix)
        except Exception:  # a lost scheduler: nothing left to wait for
            return
        if not any(running.values()):
            return
        time.sleep(0.2)


def _executing(prefix: str, dask_worker: Any = None) -> list[str]:
    """On a worker: the keys starting with ``prefix`` that it is executing (cancelled ones
    included, until they end)."""
    return [str(ts.key) for ts in dask_worker.state.executing if str(ts.key).startswith(prefix)]


def _synchronously(fn: Callable[[Any, int, Any], Any], shared: Any, index: int, item: Any) -> Any:
    """``fn(shared, index, item)`` with dask's synchronous scheduler: a dask array read inside
    a block task (a referenced source) is computed right there, never submitted back to the
    cluster from a worker's task."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        return fn(shared, index, item)
