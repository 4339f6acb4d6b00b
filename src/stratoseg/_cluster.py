"""A ``dask.distributed`` client for a job: an existing scheduler, or a local cluster.

``stratoseg segment --scheduler ADDRESS`` connects to a scheduler that is already running (a
SLURM or Kubernetes cluster started with dask-jobqueue or dask-kubernetes, or
``dask scheduler`` by hand); ``--workers N`` starts a ``LocalCluster`` of N worker processes
with one task thread each and the machine's CPUs shared out among them
(``STRATOSEG_NUM_THREADS``), closed at the end of the job. See ``docs/scaling.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from stratoseg._threads import ENV, num_threads

__all__ = ["cluster_client"]


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
        with client:
            echo(f"dask dashboard: {client.dashboard_link}")
            yield client
        return
    n = int(workers or 1)
    # the CPUs shared out: each worker's torch and chunk writers get their part, not them all
    env = {ENV: str(max(1, num_threads() // n))}
    with (
        LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                     dashboard_address=":0", silence_logs=40, env=env) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        echo(f"dask dashboard: {client.dashboard_link} ({workers} local workers)")
        yield client
