"""Per-request guards: a passed deadline stops the predict path between batches; an image over the pixel budget is
refused from its header, before it is decoded; outside a guarded request nothing is limited."""

from __future__ import annotations

import pandas as pd
import pytest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.files import open_image
from clipzoo.core.guards import DeadlineExceeded, guarded
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from PIL import Image


def _items(image_demo, n=3):
    frame = pd.read_csv(image_demo.heldout)
    return [InputItem.from_path(image_demo.heldout.parent / p) for p in frame["path"][:n]]


def test_a_passed_deadline_stops_the_prediction(tiny_spec, image_demo):
    predictor = Predictor(build_model(tiny_spec), get_domain("image"), batch_size=1)
    with guarded(timeout_s=0.0), pytest.raises(DeadlineExceeded, match="time limit"):
        predictor.predict(_items(image_demo), labels=["circle", "star"])
    with guarded(timeout_s=600):
        answered = predictor.predict(_items(image_demo), labels=["circle", "star"])
    assert [p.error for p in answered] == [None] * 3


def test_an_image_over_the_pixel_budget_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (2000, 1500), 0).save(path)
    with guarded(max_pixels=1_000_000), pytest.raises(InputError, match="2000x1500 px, over the limit"):
        open_image(path)
    assert open_image(path).size == (2000, 1500)  # no request guards: read as before
