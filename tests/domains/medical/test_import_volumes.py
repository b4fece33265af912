"""An imported 2D open_clip checkpoint in medical answers a volume (pydicom's real 5-slice CT series) with the plain
mean of its slices' L2-normalised embeddings, each computed by open_clip itself; the card states it."""

from __future__ import annotations

import open_clip
import torch
import torch.nn.functional as F
from clipzoo.core.domain import get_domain
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.domains.medical import wheel_ct_series
from clipzoo.pipeline.importer import import_model
from clipzoo.registry.loading import load_clip

from tests.cli.test_import_cli import card_of
from tests.helpers.hub import hub_cache, write_open_clip_repo

__all__ = ["hub_cache"]  # a fixture

REPO = "clipzoo-test/tiny-biomed2d"


def test_a_ct_series_is_the_mean_of_its_slices_through_the_imported_2d_model(hub_cache):
    write_open_clip_repo(hub_cache, REPO, seed=7)
    domain = get_domain("medical")
    import_model(domain, f"hf-hub:{REPO}", line="tiny-biomed2d")
    assert "an untrained pooling stage, the plain mean" in card_of("medical-tiny-biomed2d")
    clip = load_clip("medical-tiny-biomed2d")
    assert clip.spec.vision_tower == "slice_mean"
    assert any("plain mean of the L2-normalised slice embeddings" in n for n in clip.spec.extra["input_notes"])

    series = wheel_ct_series()
    ours, errors = Predictor(clip, domain).encode([InputItem(name=str(series))])
    assert errors == [None]

    volume = domain.transform(clip.spec, train=False)(domain.read(series))["volume"]
    assert volume.shape[0] == 5  # every slice of CT5N
    ref, _, _ = open_clip.create_model_and_transforms(f"hf-hub:{REPO}")
    with torch.no_grad():
        slices = F.normalize(ref.eval().encode_image(volume), dim=-1)
    expected = F.normalize(slices.mean(dim=0, keepdim=True), dim=-1)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    assert float((slices @ expected.T).min()) < 0.9999  # the slices differ: the mean is not one of them
