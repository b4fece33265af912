"""Slice attention: returned by the ``attention`` prediction task (volumes and 2D images mixed), and plotted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.domains.medical.attention import attention_figure, recording, volume_attention

from tests.helpers.medical import TINY_VIT


@pytest.fixture(scope="module")
def domain():
    return get_domain("medical")


@pytest.fixture(scope="module")
def tiny(domain):
    spec = domain.default_spec().replace(name="tiny-att", model_cfg=TINY_VIT, image_size=32, lock_text=False)
    torch.manual_seed(0)
    clip = build_model(spec)
    torch.nn.init.normal_(clip.model.visual.pool.query, std=2.0)  # a non-uniform pool, as after training
    return clip


@pytest.fixture(scope="module")
def demo(domain, tmp_path_factory):
    return domain.write_demo_data(tmp_path_factory.mktemp("medical-att"), seed=0, small=True)


def test_attention_task_returns_weights_per_slice(domain, demo, tiny, tmp_path):
    frame = pd.read_csv(demo.heldout)
    slices2d = pd.read_csv(demo.extra["train2d"])
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    files = [
        demo.heldout.parent / frame.path[0],
        tmp_path / "empty.nii.gz",
        demo.train.parent / slices2d.path[0],  # one axial slice as a single DICOM file: 2D
        demo.heldout.parent / frame.path[1],
    ]
    out = Predictor(tiny, domain, batch_size=2).predict(
        [InputItem.from_path(f) for f in files], labels=["lung nodule", "normal chest"], task="attention", top_k=2
    )
    assert [p.error is None for p in out] == [True, False, True, True]
    depth = 8  # the small demo's volumes
    for p in (out[0], out[3]):
        weights = p.to_dict()["slice_attention"]
        assert len(weights) == depth and sum(weights) == pytest.approx(1, abs=1e-4) and min(weights) >= 0
        assert p.to_dict()["slice_position"] == pytest.approx(np.linspace(0, 1, depth), abs=1e-3)
        assert len(p.labels) == 2 and sum(p.scores) == pytest.approx(1, abs=1e-3)
    assert out[2].to_dict()["slice_attention"] == [1.0]  # a 2D image batched with a volume: a one-slice volume
    assert np.std(out[0].extra["slice_attention"]) > 0


def test_attention_matches_the_tower_and_is_plotted(domain, demo, tiny):
    path = demo.heldout.parent / pd.read_csv(demo.heldout).path[0]
    att = volume_attention(tiny, domain, path)
    sample = domain.collate([domain.transform(tiny.spec, train=False)(domain.read(path))])
    with torch.no_grad():
        _, weights = tiny.model.visual.forward_with_attention(sample)
    np.testing.assert_allclose(att.weights, weights[0].numpy(), atol=1e-6)
    assert att.thumbnails.shape == (8, 32, 32)
    fig = attention_figure(att, "case")
    bars = fig.axes[0].patches
    assert len(bars) == 8 and [b.get_height() for b in bars] == pytest.approx(att.weights.tolist())
    assert len(fig.axes) == 1 + 8  # the bar chart and one thumbnail per slice


def test_2d_images_alone_have_no_attention(domain, demo, tiny):
    slices2d = pd.read_csv(demo.extra["train2d"])
    files = [demo.train.parent / p for p in slices2d.path[:2]]
    out = Predictor(tiny, domain).predict([InputItem.from_path(f) for f in files], labels=["a", "b"], task="attention")
    assert [p.extra["slice_attention"] for p in out] == [None, None] and all(len(p.labels) == 2 for p in out)


def test_recording_is_off_outside_the_block(tiny):
    with recording(tiny.model.visual) as found:
        tiny.model.encode_image(torch.zeros(2, 3, 32, 32))
    assert found == [None, None] and tiny.model.visual.record is None


def test_a_dicom_series_plot_is_titled_with_its_series_description(domain, tiny, tmp_path, monkeypatch):
    from clipzoo.domains.medical import wheel_ct_series

    monkeypatch.setenv("CLIPZOO_MEDICAL_CACHE", str(tmp_path / "cache"))
    for _ in range(2):  # the first read and the cached one
        att = volume_attention(tiny, domain, wheel_ct_series())
        assert att.label == "SmartScore - Gated 0.5 sec"  # CT5N's SeriesDescription, written by its scanner
        assert attention_figure(att).axes[0].get_title() == "slice attention: SmartScore - Gated 0.5 sec"
    nifti = tmp_path / "scan.nii.gz"
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.zeros((16, 16, 4), np.float32), np.eye(4)), nifti)
    assert attention_figure(volume_attention(tiny, domain, nifti)).axes[0].get_title() == "slice attention: scan.nii.gz"
