"""`clipzoo demo image --small`: the main job end to end on the bundled generator, as `make demo` runs it."""

from __future__ import annotations

import re

from clipzoo.cli.main import main
from clipzoo.registry.catalog import resolve

from tests.helpers.metrics import printed_metric


def test_demo_trains_registers_champion_and_predicts(capsys):
    assert main(["demo", "image", "--small"]) == 0
    out = capsys.readouterr().out
    assert "held-out zero-shot" in out and "shape_top1" in out
    assert printed_metric(out, "colour_top1") >= 1 / 6 + 0.2  # 6 colours: chance 1/6
    assert "registered clipzoo-image version" in out
    version = re.search(r"registered clipzoo-image version (\d+)", out).group(1)
    assert f"clipzoo predict clipzoo-image/{version} " in out
    prediction = out.split("  -> ")[1].splitlines()[0]
    assert len(prediction.split(", ")) == 3  # top-3 labels with scores
    assert resolve("clipzoo-image@champion").version is not None
