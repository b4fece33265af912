"""Long reports: split into sentence chunks that fit the text context, chunk embeddings pooled."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.zeroshot import encode_texts
from clipzoo.domains.medical.long_text import encode_reports, report_retrieval, split_report, token_count

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
LONG = (
    "CT chest. Findings: A 30 mm solid nodule in the left upper lobe. Small right pleural effusion. "
    "The heart is enlarged. Impression: left lung nodule, right effusion, enlarged heart."
)


@pytest.fixture(scope="module")
def tiny():
    spec = get_domain("medical").default_spec().replace(name="tiny-text", model_cfg=TINY, lock_text=False)
    torch.manual_seed(0)
    return build_model(spec)


def test_split_packs_sentences_within_the_context(tiny):
    count = lambda s: token_count(tiny, s)  # noqa: E731
    assert count(LONG) > 16
    chunks = split_report(LONG, 16, count)
    assert len(chunks) > 1 and all(count(c) <= 16 for c in chunks)
    assert " ".join(chunks) == LONG  # nothing lost, order kept
    assert split_report("Short.", 16, count) == ["Short."]


def test_long_reports_are_pooled_short_ones_kept_whole(tiny):
    short = "No effusion."
    emb = encode_reports(tiny, [LONG, short])
    chunks = split_report(LONG, 16, lambda s: token_count(tiny, s))
    expected = F.normalize(encode_texts(tiny, chunks).sum(0), dim=-1)
    torch.testing.assert_close(emb[0], expected)
    torch.testing.assert_close(emb[1], encode_texts(tiny, [short])[0])
    truncated = encode_texts(tiny, [LONG])[0]
    assert not torch.allclose(emb[0], truncated)  # the tail past the context counts


def test_report_retrieval_metrics(tiny):
    reports = [LONG, "No effusion.", LONG]
    features = encode_reports(tiny, reports)  # volumes embedded exactly like their reports
    metrics = report_retrieval(tiny, features, reports)
    assert metrics["volume_to_report_R@1"] == 1.0 and metrics["report_to_volume_R@1"] == 1.0
