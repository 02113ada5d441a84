"""Per-article work on a Dask cluster gives the same site as a local build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster, get_task_stream

from sitegen.build import BuildOptions, build
from tests.conftest import SITES, build_into
from tests.test_build import tree_digest


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


def test_dask_build_matches_local_build(client: Client, tmp_path: Path) -> None:
    build_into(SITES / "newsroom", tmp_path / "local", workers=1, cache=False)
    with get_task_stream(client) as stream:
        report = build(BuildOptions(source=SITES / "newsroom", output=tmp_path / "dask", cache=False),
                       executor=client.get_executor())
    assert not report.errors and report.pages > 50
    assert tree_digest(tmp_path / "dask") == tree_digest(tmp_path / "local")
    # The reading and rendering really ran as tasks on the cluster.
    names = {task["key"].split("-")[0] for task in stream.data}
    assert {"load_chunk_for_cache", "render_chunk"} <= names
