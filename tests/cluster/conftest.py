"""One 2-worker dask.distributed LocalCluster (loopback, worker processes) for the cluster
tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="package")
def client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):  # fmt: skip
        yield c
