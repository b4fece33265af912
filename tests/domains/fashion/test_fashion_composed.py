"""Composed retrieval: triplet files checked against the catalogue, the Combiner learns what the sum cannot."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model
from clipzoo.core.spec import ModelSpec
from clipzoo.domains.fashion.combiner import Combiner, get_combiner, sum_query
from clipzoo.domains.fashion.composed import CombinerConfig, composed_metrics, train_combiner
from clipzoo.domains.fashion.triplets import Triplets, read_triplets, triplets_path_for

from tests.conftest import TINY_OPEN_CLIP_CFG


@pytest.fixture(scope="module")
def tiny_clip():
    spec = ModelSpec(name="tiny", domain="fashion", model_cfg=TINY_OPEN_CLIP_CFG, image_size=32,
                     vision_tower="fashion")  # fmt: skip
    torch.manual_seed(0)
    return build_model(spec)


def _manifest(tmp_path: Path, ids: list[str]) -> Manifest:
    path = tmp_path / "catalogue.csv"
    pd.DataFrame({"path": [f"{i}.jpg" for i in ids], "caption": ids, "product_id": ids}).to_csv(path, index=False)
    return Manifest.read(path)


def test_triplet_naming_a_missing_product_is_refused(tmp_path):
    manifest = _manifest(tmp_path, ["A1", "A2", "A3"])
    good = triplets_path_for(manifest.source)
    assert good.name == "catalogue.triplets.csv"
    good.write_text("reference,modification,target\nA1,same but in blue,A2\nA3,with stripes,A1\n")
    t = read_triplets(good, manifest)
    assert (t.reference, t.target, t.modification) == ([0, 2], [1, 0], ["same but in blue", "with stripes"])
    bad = tmp_path / "bad.csv"
    bad.write_text("reference,modification,target\nA1,in red,A2\nA2,in blue,B9\n")
    with pytest.raises(InputError, match=r"bad\.csv: line 3: target product 'B9' is not in manifest"):
        read_triplets(bad, manifest)
    (tmp_path / "cols.csv").write_text("ref,text,target\nA1,x,A2\n")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['reference', 'modification'\]"):
        read_triplets(tmp_path / "cols.csv", manifest)
    with pytest.raises(InputError, match="triplet file not found"):
        read_triplets(tmp_path / "nope.csv", manifest)
    (tmp_path / "empty_text.csv").write_text("reference,modification,target\nA1,,A2\n")
    with pytest.raises(InputError, match="line 2: empty modification text"):
        read_triplets(tmp_path / "empty_text.csv", manifest)


def test_duplicated_product_ids_are_refused(tmp_path):
    manifest = _manifest(tmp_path, ["A1", "A1"])
    (tmp_path / "t.csv").write_text("reference,modification,target\nA1,x,A1\n")
    with pytest.raises(InputError, match=r"duplicated product ids \['A1'\]"):
        read_triplets(tmp_path / "t.csv", manifest)


def test_combiner_mixes_with_a_lambda_in_0_1_and_outputs_unit_vectors():
    torch.manual_seed(0)
    comb = Combiner(16, 32, 64).eval()
    image, text = F.normalize(torch.randn(5, 16), dim=-1), F.normalize(torch.randn(5, 16), dim=-1)
    out = comb(image, text)
    assert out.shape == (5, 16) and torch.allclose(out.norm(dim=-1), torch.ones(5))
    lam = comb.mix(image, text)[1]
    assert ((lam > 0) & (lam < 1)).all()
    assert torch.allclose(sum_query(image, text), F.normalize(image + text, dim=-1))


def test_stage2_trains_the_combiner_beyond_the_sum_baseline(tiny_clip):
    """Each edit maps every product to another by its own permutation: the sum cannot learn it, the Combiner can."""
    n, edits = 40, ["make it red", "with polka dots", "the oversized version", "same but checked"]
    gen = torch.Generator().manual_seed(0)
    gallery = F.normalize(torch.randn(n, tiny_clip.spec.embed_dim, generator=gen), dim=-1)
    perms = [torch.randperm(n, generator=gen) for _ in edits]
    refs = [i for _ in edits for i in range(n)]
    texts = [e for e in edits for _ in range(n)]
    targets = [int(p[i]) for p in perms for i in range(n)]
    triplets = Triplets(reference=refs, modification=texts, target=targets, source=Path("memory"))
    combiner = get_combiner(tiny_clip.model)
    assert combiner is not None and not combiner.is_trained
    before = composed_metrics(tiny_clip, gallery, triplets)
    assert "composed_combiner_R@10" not in before  # untrained: only the sum baseline is reported
    losses = train_combiner(tiny_clip, gallery, triplets, CombinerConfig(epochs=150, batch_size=40, lr=3e-3))
    assert combiner.is_trained and not any(p.requires_grad for p in combiner.parameters())
    assert losses[-1] < 0.5 * losses[0]
    after = composed_metrics(tiny_clip, gallery, triplets)
    assert after["composed_combiner_R@10"] > after["composed_sum_R@10"] + 0.3
    assert 0.0 < after["composed_combiner_mean_lambda"] < 1.0
    assert after["composed_sum_R@10"] == before["composed_sum_R@10"]
