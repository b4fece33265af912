"""Slide-level zero-shot: top-K pooling of tile logits, streamed encoding, tiles used/skipped, heatmaps, and the
held-out slide metrics read from ``slides.csv``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch
from clipzoo.core.data import Manifest
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model
from clipzoo.core.spec import ModelSpec
from clipzoo.core.zeroshot import PromptPack
from clipzoo.domains.pathology.demo_data import write_demo_dataset
from clipzoo.domains.pathology.prefetch import prefetched
from clipzoo.domains.pathology.slide import open_slide
from clipzoo.domains.pathology.slide_zeroshot import classify_slide, encode_slide, overlay, topk_pool
from clipzoo.domains.pathology.tiling import plan_tiles
from PIL import Image

from tests.conftest import TINY_OPEN_CLIP_CFG


@pytest.fixture(scope="module")
def clip():
    torch.manual_seed(0)
    spec = ModelSpec(name="tiny-he", domain="pathology", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32)
    return build_model(spec)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zs-demo")
    return root, write_demo_dataset(root, n_train=6, n_heldout=12, n_slides=3, tile_px=64, slide_blocks=(6, 5))


def test_topk_pool_is_the_mean_of_each_class_top_k_tiles():
    logits = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.1, 0.2]])
    pooled = topk_pool(logits, ks=(1, 2, 10))
    assert torch.allclose(pooled[1], torch.tensor([0.9, 0.8]))
    assert torch.allclose(pooled[2], torch.tensor([0.8, 0.55]))
    assert torch.allclose(pooled[10], logits.mean(0))  # K above the tile count: all tiles
    # top-K rescues a small tumour focus that mean pooling drowns
    focus = torch.tensor([[0.9, 0.0]] * 2 + [[0.0, 0.3]] * 30)
    assert topk_pool(focus, (2,))[2].argmax() == 0 and focus.mean(0).argmax() == 1
    with pytest.raises(ValueError):
        topk_pool(torch.zeros(0, 2), (1,))


def test_streamed_batches_give_the_same_embeddings_as_one_at_a_time(clip, demo):
    root, paths = demo
    transform = get_domain("pathology").transform(clip.spec, train=False)
    rel = pd.read_csv(paths["slides"])["path"][0]
    with open_slide(root / rel) as slide:
        plan = plan_tiles(slide, 0.5, 64)
        timings: dict[str, float] = {}
        batched = encode_slide(clip, slide, plan, transform, batch_size=7, timings=timings)  # read ahead
        in_line = encode_slide(clip, slide, plan, transform, batch_size=7, prefetch=False)
        single = encode_slide(clip, slide, plan, transform, batch_size=1, prefetch=False)
    assert batched.shape == (plan.n_tiles, clip.spec.embed_dim)
    assert torch.equal(batched, in_line) and torch.allclose(batched, single, atol=1e-5)
    assert set(timings) == {"read", "transform", "wait", "encode"} and all(v > 0 for v in timings.values())
    assert torch.allclose(batched.norm(dim=1), torch.ones(plan.n_tiles), atol=1e-5)  # projected + L2-normalised


def test_prefetched_keeps_order_and_raises_where_the_item_is_due():
    assert list(prefetched(range(5))) == [0, 1, 2, 3, 4] and list(prefetched([])) == []

    def reader() -> Iterator[int]:
        yield 1
        raise InputError("corrupt tile", "s.tif")

    got = []
    with pytest.raises(InputError, match=r"s\.tif: corrupt tile"):
        for item in prefetched(reader()):
            got.append(item)
    assert got == [1]


def test_slide_prediction_reports_tiles_and_writes_a_heatmap(clip, demo, tmp_path):
    root, paths = demo
    domain = get_domain("pathology")
    pack = PromptPack.from_dict("diagnosis", domain.prompt_packs()["diagnosis"])
    rel = pd.read_csv(paths["slides"])["path"][1]
    heatmap = tmp_path / "maps" / "slide.png"
    result = classify_slide(
        clip, root / rel, pack, domain.transform(clip.spec, False), tile_px=64, ks=(1, 5), k=3, heatmap=heatmap
    )
    assert sorted(result.labels) == sorted(pack.class_names) and sum(result.scores) == pytest.approx(1, abs=1e-4)
    assert set(result.label_per_k) == {1, 3, 5}
    assert result.tiles_used > 0 and result.tiles_skipped > 0 and result.tiles_used + result.tiles_skipped == 30
    assert len(result.tile_coords) == result.tiles_used and all(x % 64 == 0 for x, _ in result.tile_coords)
    with Image.open(heatmap) as img:
        assert img.format == "PNG"
    with open_slide(root / rel) as slide:
        plan = plan_tiles(slide, 0.5, 64)
        plain = slide.thumbnail(1024)
    thumb = overlay(plan, np.ones(plan.n_tiles, np.float32))  # what the heatmap figure shows, pixel-aligned
    assert thumb.shape == plain.shape
    changed = np.abs(thumb.astype(int) - plain.astype(int)).sum(-1) > 0
    assert 0.05 < changed.mean() < 0.95  # tissue tiles coloured, glass left clear
    assert result.to_dict()["tiles_used"] == result.tiles_used


def test_slide_metrics_come_from_slides_csv_beside_the_heldout_manifest(clip, demo):
    _, paths = demo
    domain = get_domain("pathology")
    manifest = Manifest.read(paths["heldout"])
    metrics = domain.extra_metrics(clip, manifest, torch.zeros(len(manifest), clip.spec.embed_dim))
    assert {"slide_top1_accuracy", "slide_top10_accuracy", "slide_balanced_accuracy"} <= set(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in metrics if k.endswith("accuracy"))
    assert metrics["slide_tiles_used_mean"] > 0


def test_slide_zero_shot_on_a_blank_slide_is_an_input_error(clip, tmp_path):
    from clipzoo.domains.pathology.pyramid import write_pyramidal_tiff

    blank = np.full((256, 256, 3), 240, np.uint8)
    path = write_pyramidal_tiff(tmp_path / "glass.tif", lambda a, b: blank[a:b], 256, 256, mpp=0.5, levels=1)
    pack = PromptPack.for_labels(["tumour", "normal"])
    with pytest.raises(InputError, match=r"glass\.tif: no tissue found"):
        classify_slide(clip, path, pack, get_domain("pathology").transform(clip.spec, False), tile_px=64)
