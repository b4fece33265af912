"""Prompt packs: synonyms x templates averaged and renormalised; validation; probabilities; the predict path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model
from clipzoo.core.predict import InputItem, Predictor
from clipzoo.core.zeroshot import PromptPack, class_probabilities, classifier_weights, encode_texts


def test_class_embedding_is_the_renormalised_mean_of_its_prompts(tiny_spec):
    clip = build_model(tiny_spec)
    clip.model.eval()
    pack = PromptPack.from_dict(
        "shape",
        {
            "templates": ["a {}.", "an image of a {}."],
            "classes": {"circle": ["circle", "round disc"], "star": ["star"]},
        },
    )
    assert pack.prompts("circle") == [
        "a circle.",
        "an image of a circle.",
        "a round disc.",
        "an image of a round disc.",
    ]
    weights = classifier_weights(clip, pack)
    by_hand = F.normalize(encode_texts(clip, pack.prompts("circle")).mean(0), dim=-1)
    torch.testing.assert_close(weights[0], by_hand)
    assert torch.allclose(weights.norm(dim=-1), torch.ones(2))


def test_pack_validation():
    with pytest.raises(InputError, match="empty label list"):
        PromptPack.for_labels([])
    with pytest.raises(InputError, match="placeholder"):
        PromptPack.for_labels(["cat"], templates=["a photo"])
    with pytest.raises(InputError, match="without a usable synonym"):
        PromptPack.from_dict("x", {"templates": ["{}"], "classes": {"cat": [" "]}})


def test_probabilities_sum_to_one_and_follow_similarity(tiny_spec):
    clip = build_model(tiny_spec)
    weights = F.normalize(torch.randn(3, 32), dim=-1)
    features = torch.stack([weights[2] * 5, weights[0]])
    probs = class_probabilities(features, weights, clip)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    assert probs.argmax(-1).tolist() == [2, 0]


def test_predictor_answers_good_files_and_names_bad_ones(tiny_spec, image_demo, tmp_path):
    clip = build_model(tiny_spec)
    predictor = Predictor(clip, get_domain("image"), batch_size=2)
    good = [
        str(image_demo.heldout.parent / "images" / n)
        for n in sorted(p.name for p in (image_demo.heldout.parent / "images").iterdir())[:3]
    ]
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    items = [InputItem.from_path(good[0]), InputItem.from_path(bad), *map(InputItem.from_path, good[1:])]
    results = predictor.predict(items, labels=["circle", "star", "ring"], top_k=2, return_embeddings=True)
    assert [r.error is None for r in results] == [True, False, True, True]
    assert str(bad) in results[1].error
    alone = predictor.predict([InputItem.from_path(good[1])], labels=["circle", "star", "ring"], top_k=2)
    assert alone[0].labels == results[2].labels  # batching and bad neighbours do not change an answer
    assert alone[0].scores == pytest.approx(results[2].scores, abs=1e-5)
    with_bytes = predictor.predict(
        [InputItem(name="x.png", data=Path(good[1]).read_bytes())], labels=["circle", "star", "ring"], top_k=2
    )
    assert with_bytes[0].scores == pytest.approx(alone[0].scores, abs=1e-5)
