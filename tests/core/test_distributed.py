"""torchrun on CPU: two processes give the single-process loss and gradients on the same global batch."""

from __future__ import annotations

import json
import sys

import pytest
from safetensors.torch import load_file

from tests.conftest import REPO, write_spec
from tests.helpers.torchrun import TORCHRUN_2, run_ok

HELPER = REPO / "tests" / "helpers" / "ddp_step.py"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["global", "local"])
def test_two_process_torchrun_equals_single_process(mode, tiny_spec, image_demo, tmp_path):
    spec_path = write_spec(tiny_spec, tmp_path)
    single, double = tmp_path / "single", tmp_path / "double"
    run_ok([sys.executable, str(HELPER), str(spec_path), str(image_demo.train), str(single), mode], tmp_path)
    run_ok([*TORCHRUN_2, str(HELPER), str(spec_path), str(image_demo.train), str(double), mode], tmp_path)

    one = json.loads((single / "result.json").read_text())
    two = json.loads((double / "result.json").read_text())
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert (
        len(one["rows"]) == 16 and len(two["rows"]) == 8 and set(two["rows"]) < set(one["rows"])
    )  # rank 0 saw half the global batch
    assert abs(one["loss"] - two["loss"]) < 1e-5
    g1, g2 = load_file(str(single / "grads.safetensors")), load_file(str(double / "grads.safetensors"))
    assert g1.keys() == g2.keys() and len(g1) > 10
    for name in g1:  # DDP-averaged gradients equal the single-process gradient of the global batch
        scale = g1[name].abs().max().item()
        err = (g2[name] - g1[name]).abs().max().item()
        assert err <= 1e-4 * scale + 1e-7, f"{name}: max error {err:.3g} for gradients up to {scale:.3g}"
