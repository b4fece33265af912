"""Transforms, slice sampling, collate, the slice-attention tower, finding prompts and the scan cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.core.spec import ModelSpec
from clipzoo.domains.medical.cache import ScanCache
from clipzoo.domains.medical.intensity import WINDOWS, multi_window, window
from clipzoo.domains.medical.reader import read_scan
from clipzoo.domains.medical.tower import SliceTower, collate_scans
from clipzoo.domains.medical.transforms import sample_slices
from monai.transforms import ScaleIntensityRange

from tests.helpers.medical import TINY_VIT


@pytest.fixture(scope="module")
def domain():
    return get_domain("medical")


@pytest.fixture(scope="module")
def tiny(domain):
    spec = domain.default_spec().replace(name="tiny", model_cfg=TINY_VIT, image_size=32, lock_text=False)
    torch.manual_seed(0)
    return build_model(spec)


@pytest.fixture(scope="module")
def demo(domain, tmp_path_factory):
    return domain.write_demo_data(tmp_path_factory.mktemp("medical-demo"), seed=0, small=True)


def test_windows_equal_monai_scale_intensity_range():
    hu = torch.linspace(-1200, 2000, 301).view(1, -1)
    for name, (level, width) in WINDOWS.items():
        ref = ScaleIntensityRange(level - width / 2, level + width / 2, 0.0, 1.0, clip=True)(hu)
        torch.testing.assert_close(window(hu, name), torch.as_tensor(ref))
    channels = multi_window(hu, ("lung", "mediastinum", "bone"))
    assert channels.shape == (3, 301)
    air, fat, bone = (int(torch.argmin((hu[0] - v).abs())) for v in (-1000, -100, 1000))
    assert channels[0, air] < 0.25 and channels[1, fat] < channels[1, bone] and channels[2, bone] > 0.5


@pytest.mark.parametrize("strategy", ["uniform", "random", "center", "all"])
def test_slice_sampling(strategy):
    idx = sample_slices(300, 16, strategy, np.random.default_rng(0))
    assert list(idx) == sorted(idx) and idx.min() >= 0 and idx.max() < 300
    assert len(idx) == (300 if strategy == "all" else 16)
    if strategy == "uniform":
        assert idx[0] == 0 and idx[-1] == 299
    assert list(sample_slices(5, 16, strategy)) == [0, 1, 2, 3, 4]


def test_transform_and_collate_shapes(domain, demo, tiny):
    frame = pd.read_csv(demo.train)
    transform = domain.transform(tiny.spec, train=False)
    volume = transform(domain.read(demo.train.parent / frame.path[0]))
    assert volume["volume"].shape == (8, 3, 32, 32) and volume["position"].tolist()[0] == 0.0
    assert type(volume["volume"]) is torch.Tensor  # no MetaTensor leaks into the model
    short = {"volume": volume["volume"][:3], "position": volume["position"][:3]}
    image = torch.zeros(3, 32, 32)
    batch = collate_scans([volume, short, image])
    assert batch["volume"].shape == (3, 8, 3, 32, 32)
    assert batch["mask"].sum(1).tolist() == [8, 3, 1]
    assert not batch["volume"][1, 3:].any()
    assert collate_scans([image, image]).shape == (2, 3, 32, 32)


def test_padding_does_not_change_a_volume_embedding(tiny, domain, demo):
    """A volume padded with junk slices behind a False mask pools exactly as it does alone."""
    torch.manual_seed(1)
    with torch.no_grad():
        tower: SliceTower = tiny.model.visual
        for p in tower.pool.parameters():  # a trained-looking pool: non-zero query, position and attention
            p.add_(torch.randn_like(p) * 0.3)
        frame = pd.read_csv(demo.train)
        transform = domain.transform(tiny.spec, train=False)
        vol = transform(domain.read(demo.train.parent / frame.path[1]))
        short = {"volume": vol["volume"][:5], "position": vol["position"][:5]}
        alone = tower(collate_scans([short]))
        padded_batch = collate_scans([short, vol])
        padded_batch["volume"][0, 5:] = torch.randn_like(padded_batch["volume"][0, 5:])
        emb, weights = tower.forward_with_attention(padded_batch)
    torch.testing.assert_close(emb[0], alone[0], atol=1e-5, rtol=1e-5)
    assert torch.all(weights[0, 5:] == 0) and torch.allclose(weights.sum(1), torch.ones(2))
    assert tower.last_attention.shape == (1, 5)


def test_chunked_slice_encoding_equals_one_call(tiny):
    tower: SliceTower = tiny.model.visual
    slices = torch.randn(7, 3, 32, 32)
    tower.eval()
    with torch.no_grad():
        whole = tower.trunk(slices)
        tower.chunk_size = 3
        chunked = tower.encode_slices(slices)
        tower.chunk_size = 256
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


def test_lock_freezes_the_2d_trunk_not_the_pooling(domain):
    spec = domain.default_spec().replace(name="tiny-locked", model_cfg=TINY_VIT, image_size=32, lock_image=True)
    model = build_model(spec).model
    trunk = [p.requires_grad for p in model.visual.trunk.parameters()]
    pool = [p.requires_grad for p in model.visual.pool.parameters()]
    assert not any(trunk) and all(pool)
    batch = collate_scans([{"volume": torch.randn(4, 3, 32, 32), "position": torch.linspace(0, 1, 4)}] * 2)
    model.visual.pool.query.data.normal_()
    model.encode_image(batch).sum().backward()
    assert model.visual.pool.query.grad is not None


def test_single_slice_pooling_at_init_is_the_slice_embedding(domain):
    """RadCLIP's 2D -> 3D hand-over: a fresh pooling changes nothing for a one-slice volume."""
    spec = domain.default_spec().replace(name="tiny-init", model_cfg=TINY_VIT, image_size=32)
    tower = build_model(spec).model.visual.eval()
    image = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            tower(collate_scans([image[0], image[1], {"volume": image[:1], "position": torch.tensor([0.5])}]))[:2],
            tower(image),
            atol=1e-5,
            rtol=1e-5,
        )


def test_prompts_never_occur_in_reports(domain, demo):
    captions = " ".join(pd.concat([pd.read_csv(demo.train), pd.read_csv(demo.heldout)]).caption).lower()
    sentences = domain.finding_prompts().sentences()
    for pack in domain.prompt_packs().values():
        sentences += [t.format(s) for syn in pack["classes"].values() for s in syn for t in pack["templates"]]
    assert len(sentences) > 50
    assert not [s for s in sentences if s.lower().rstrip(".") in captions]


def test_demo_manifest_matches_findings(demo):
    frame = pd.read_csv(demo.train)
    assert set(frame.format) == {"dicom", "nifti"}
    for _, row in frame.iterrows():
        caption = row.caption.lower()
        assert ("effusion" in caption.split("impression:")[1]) == bool(row.effusion)
        assert (row.nodule_side in caption) if row.nodule else "no" in caption.split(".")[1]


def test_findings_metrics_from_a_model(domain, demo, tiny):
    """The findings are multilabel zero-shot tasks of core's evaluation: AUROC of the softmax over each finding's
    present/absent prompt pair, with a bootstrap CI, and their mean."""
    from clipzoo.core.data import Manifest
    from clipzoo.core.evaluate import encode_manifest, evaluate
    from clipzoo.core.zeroshot import PromptPack, class_probabilities, classifier_weights
    from sklearn.metrics import roc_auc_score

    manifest = Manifest.read(demo.heldout)
    metrics = evaluate(tiny, domain, manifest).metrics
    present = [f for f in ("nodule", "effusion", "cardiomegaly") if manifest.frame[f].nunique() == 2]
    assert present and all(0 <= metrics[f"{f}_auroc"] <= 1 for f in present)
    feats = encode_manifest(tiny, domain, manifest)
    for f in present:
        pack = PromptPack.from_dict(f, domain.prompt_packs()[f"finding:{f}"])
        prob = class_probabilities(feats, classifier_weights(tiny, pack), tiny)[:, 0].numpy()
        assert metrics[f"{f}_auroc"] == pytest.approx(roc_auc_score(manifest.frame[f], prob))
    assert all(metrics[f"{f}_auroc_ci_low"] <= metrics[f"{f}_auroc"] <= metrics[f"{f}_auroc_ci_high"] for f in present)
    assert metrics["findings_mean_auroc"] == pytest.approx(np.mean([metrics[f"{f}_auroc"] for f in present]))


def test_prediction_batch_with_a_bad_file_answers_the_others(domain, demo, tiny, tmp_path):
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    frame = pd.read_csv(demo.heldout)
    files = [demo.heldout.parent / frame.path[0], tmp_path / "empty.nii.gz", demo.heldout.parent / frame.path[1]]
    out = Predictor(tiny, domain).predict(
        [InputItem.from_path(f) for f in files], labels=["pleural effusion", "normal"]
    )
    assert [p.error is None for p in out] == [True, False, True]
    assert "empty.nii.gz: file is empty (0 bytes)" in out[1].error
    assert len(out[0].labels) == 2 and abs(sum(out[0].scores) - 1) < 1e-4


def test_scan_cache_returns_the_same_volume(demo, tmp_path):
    cache = ScanCache(tmp_path / "cache")
    path = demo.train.parent / pd.read_csv(demo.train).path[0]
    first = cache.get(path, read_scan)
    second = cache.get(path, read_scan)
    assert (cache.misses, cache.hits) == (1, 1)
    assert torch.equal(first.as_tensor(), second.as_tensor()) and torch.equal(first.affine, second.affine)
    assert second.meta["modality"] == "CT" and second.meta["frame"] == "patient"


def test_spec_round_trip_keeps_scan_settings(domain, tmp_path):
    spec = domain.default_spec()
    again = ModelSpec.load(spec.save(tmp_path / "spec.json"))
    assert again.extra["scan"]["max_slices"] == spec.extra["scan"]["max_slices"]
    assert again.vision_tower == "slice_attention"
