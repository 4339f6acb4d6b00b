"""One 2-worker dask.distributed LocalCluster (loopback, worker processes) for the cluster
tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")  # "package" outlives the folder here (no __init__.py)
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=40,
        ) as cluster,
        # not the default scheduler: the tests' one-process runs stay in this process
        distributed.Client(cluster, set_as_default=False) as c,
    ):  # fmt: skip
        yield c
