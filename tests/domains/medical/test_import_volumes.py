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
    card = card_of("medical-tiny-biomed2d")
    assert "an untrained pooling stage, the plain mean" in card
    assert "synthetic phantoms" not in card and "The published weights, unchanged" in card  # not the demo's caveat
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


def test_a_nifti_volume_is_mean_pooled_and_a_radiograph_goes_through_the_2d_tower(hub_cache, tmp_path):
    import nibabel as nib
    import numpy as np
    from PIL import Image

    write_open_clip_repo(hub_cache, REPO, seed=8)
    domain = get_domain("medical")
    import_model(domain, f"hf-hub:{REPO}", line="tiny-biomed2d-nifti")
    clip = load_clip("medical-tiny-biomed2d-nifti")
    rng = np.random.default_rng(3)
    volume_path = tmp_path / "ct.nii.gz"
    hu = rng.normal(0, 400, (24, 20, 6)).astype(np.float32)
    nib.save(nib.Nifti1Image(hu, np.diag([1.5, 1.5, 5.0, 1.0])), volume_path)
    xray = tmp_path / "cxr.png"
    Image.fromarray(rng.integers(0, 256, (40, 36), dtype=np.uint8)).save(xray)

    ours, errors = Predictor(clip, domain).encode([InputItem(name=str(volume_path)), InputItem(name=str(xray))])
    assert errors == [None, None]
    transform = domain.transform(clip.spec, train=False)
    slices = transform(domain.read(volume_path))["volume"]
    picture = transform(domain.read(xray))
    assert slices.shape[0] == 6 and picture.ndim == 3  # every slice of the volume; the radiograph is one image
    ref, _, _ = open_clip.create_model_and_transforms(f"hf-hub:{REPO}")
    with torch.no_grad():
        per_slice = F.normalize(ref.eval().encode_image(slices), dim=-1)
        image = F.normalize(ref.encode_image(picture[None]), dim=-1)
    expected = torch.cat([F.normalize(per_slice.mean(dim=0, keepdim=True), dim=-1), image])
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
