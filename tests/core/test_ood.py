"""Out-of-distribution warnings: held-out embedding statistics flag inputs unlike the held-out data, in rows."""

from __future__ import annotations

import json

import numpy as np
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.ood import EmbeddingStats
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.registry.loading import load_clip
from PIL import Image

UNLIKE = "unlike anything this model was evaluated on"


def _cloud(rng: np.random.Generator, n: int, centre: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(centre + rng.normal(0, 0.05, (n, centre.size)))


def test_fresh_in_distribution_rows_are_flagged_at_about_the_nominal_rate_and_others_always():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 64))
    fit = torch.cat([_cloud(rng, 100, c) for c in centres])
    stats = EmbeddingStats.fit(fit, [str(k) for k in range(3) for _ in range(100)])
    fresh = torch.cat([_cloud(rng, 400, c) for c in centres])
    assert (stats.distances(fresh) > stats.threshold).float().mean() <= 0.02
    elsewhere = _cloud(rng, 200, rng.normal(0, 1, 64))
    assert (stats.distances(elsewhere) > stats.threshold).all()


def test_saved_statistics_give_the_same_distances(tmp_path):
    rng = np.random.default_rng(1)
    features = torch.from_numpy(rng.normal(0, 1, (60, 16)))
    stats = EmbeddingStats.fit(features)
    stats.save(tmp_path)
    loaded = EmbeddingStats.load(tmp_path)
    torch.testing.assert_close(loaded.distances(features), stats.distances(features))
    assert loaded.threshold == stats.threshold and EmbeddingStats.load(tmp_path / "none") is None


def test_rows_carry_the_warning_exactly_when_the_embedding_lies_beyond_the_threshold(
    registered_image_model, image_demo, tmp_path
):
    """The image demo model registered with held-out data records its statistics (checksummed in the package); its
    held-out pictures are flagged at most 2% of the time; a row carries the warning exactly when its input's
    distance passes the version's threshold (here lowered to the held-out median, so that some rows do). Whether
    pictures of other domains lie beyond it depends on how well the model is trained: ``scripts/bench/trust.py``
    measures that on each domain's demo model."""
    import dataclasses

    import pandas as pd
    from clipzoo.domains.pathology.synthetic import render_tissue
    from clipzoo.registry.loading import registered_package

    with registered_package(registered_image_model.published.name) as (_, package):
        assert {"ood.safetensors", "ood.json"} <= set(json.loads((package / "checksums.json").read_text()))
    clip = load_clip(registered_image_model.published.name)
    assert clip.ood is not None and clip.ood.info["rows"] >= 20 and clip.ood.info["class_column"] == "shape"
    heldout = pd.read_csv(image_demo.heldout)
    items = [InputItem.from_path(image_demo.heldout.parent / p) for p in heldout["path"]]
    rows = Predictor(clip, get_domain("image")).predict(items, labels=["a circle", "a square"])
    flagged = [r.input for r in rows if any(UNLIKE in w for w in r.warnings)]
    assert len(flagged) <= 0.02 * len(rows) + 1, flagged  # one of 48 rounds to 2%

    rng = np.random.default_rng(2)
    for i, tissue in enumerate(["tumour", "stroma", "adipose"]):
        Image.fromarray(render_tissue(tissue, rng, 96)).save(tmp_path / f"tile{i}.png")
        items.append(InputItem.from_path(tmp_path / f"tile{i}.png"))
    predictor = Predictor(clip, get_domain("image"))
    features, _ = predictor.encode(items)
    distances = clip.ood.distances(features)
    clip.ood = dataclasses.replace(clip.ood, threshold=float(distances.median()))
    rows = predictor.predict(items, labels=["a circle", "a square"])
    expected = (distances > clip.ood.threshold).tolist()
    assert [any(UNLIKE in w for w in r.warnings) for r in rows] == expected
    assert 0 < sum(expected) < len(expected)
