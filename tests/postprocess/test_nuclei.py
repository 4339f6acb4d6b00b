"""On real touching nuclei (dsb2018), watershed post-processing beats MAP (issue 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from stratoseg.metrics import match_instances
from stratoseg.postprocess import postprocess
from stratoseg.synthetic import probability_map
from stratoseg.training._targets import make_target


def test_watershed_beats_map_on_touching_nuclei(shared_data: Path) -> None:
    files = sorted((shared_data / "dsb2018-nuclei" / "labels").glob("*.tif"))[40:48]
    pq: dict[str, list[float]] = {"map": [], "watershed": []}
    for i, f in enumerate(files):
        g = tifffile.imread(f).astype(np.int32)
        z = probability_map(make_target("touching", g), 3, blur=2.0, noise=0.03, seed=i)
        pq["map"].append(match_instances(postprocess(z, "map", instances=True), g).pq)
        pq["watershed"].append(match_instances(postprocess(z, "watershed", tau1=0.8), g).pq)
    assert np.mean(pq["watershed"]) > np.mean(pq["map"]) + 0.05
