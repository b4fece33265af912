"""Two registrations racing with different metrics: the better one is always champion afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from clipzoo.registry.catalog import CHAMPION, PRIMARY_VALUE_TAG
from clipzoo.registry.tracking import configure

from tests.conftest import REPO

HELPER = REPO / "tests" / "helpers" / "publish_one.py"


@pytest.mark.slow
@pytest.mark.parametrize("better_first", [True, False])
def test_the_better_of_two_concurrent_registrations_is_champion(
    registered_image_model, image_demo, tmp_path, better_first
):
    client = configure()
    name = registered_image_model.published.name
    best = float(
        client.get_model_version(name, client.get_registered_model(name).aliases[CHAMPION]).tags[PRIMARY_VALUE_TAG]
    )
    example = str(Path(image_demo.heldout).parent / pd.read_csv(image_demo.heldout)["path"][0])
    start = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    values = [best + 2.0, best + 1.0] if better_first else [best + 1.0, best + 2.0]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HELPER),
                f"{name}/{registered_image_model.published.version}",
                example,
                str(v),
                str(start),
                str(image_demo.heldout),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in values
    ]
    start.touch()
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    versions = {float(v): out.split()[0] for v, (out, _) in zip(values, outputs, strict=True)}
    champion = str(client.get_registered_model(name).aliases[CHAMPION])
    assert champion == versions[best + 2.0]
    assert float(client.get_model_version(name, champion).tags[PRIMARY_VALUE_TAG]) == best + 2.0
