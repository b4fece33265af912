"""Reports longer than the text tower's context: split into sentences (packed into chunks that fit), each chunk
encoded, the chunk embeddings averaged and renormalised (as MAKE pools sub-captions). Short texts pass whole."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from clipzoo.core.metrics import retrieval_metrics
from clipzoo.core.zeroshot import encode_texts

SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+(?=(?:FINDINGS|IMPRESSION|Findings|Impression)\s*:)")


def token_count(clip: Any, text: str) -> int:
    """Tokens of ``text`` with the model's tokenizer, special tokens included (no truncation)."""
    tok = clip.tokenizer
    inner = getattr(tok, "tokenizer", None)
    if inner is not None and callable(inner):  # open_clip's HFTokenizer wraps a Hugging Face tokenizer
        return len(inner(text, add_special_tokens=True, truncation=False)["input_ids"])
    return len(tok.encode(text)) + 2  # open_clip's SimpleTokenizer: + start and end tokens


def split_report(text: str, max_tokens: int, count=len) -> list[str]:
    """Sentences of ``text`` packed greedily into chunks of at most ``max_tokens`` (``count(chunk)``), in order; a
    sentence longer than that is cut at commas, then into word runs, so every chunk fits."""
    chunks: list[str] = []
    for sentence in (s.strip() for s in SENTENCE.split(text) if s and s.strip()):
        for piece in _fit(sentence, max_tokens, count):
            joined = f"{chunks[-1]} {piece}" if chunks else piece
            if chunks and count(joined) <= max_tokens:
                chunks[-1] = joined
            else:
                chunks.append(piece)
    return chunks or [text]


def _fit(sentence: str, max_tokens: int, count) -> list[str]:
    """``sentence`` in pieces of at most ``max_tokens``: whole, else at commas, else runs of words."""
    if count(sentence) <= max_tokens:
        return [sentence]
    parts = [p for p in re.split(r"(?<=,)\s+", sentence) if p]
    if len(parts) > 1:
        return [piece for part in parts for piece in _fit(part, max_tokens, count)]
    words, out = sentence.split(), []
    for word in words:
        if out and count(f"{out[-1]} {word}") <= max_tokens:
            out[-1] = f"{out[-1]} {word}"
        else:
            out.append(word)
    return out


def report_chunks(clip: Any, text: str) -> list[str]:
    """``text`` whole when it fits the model's text context, else its sentence chunks that do."""
    context = clip.spec.context_length
    return [text] if token_count(clip, text) <= context else split_report(text, context, _counter(clip))


@torch.no_grad()
def encode_reports(clip: Any, texts: Sequence[str]) -> torch.Tensor:
    """L2-normalised embeddings of ``texts``: whole when they fit the context, else pooled over their chunks."""
    pieces: list[str] = []
    owners: list[int] = []
    for i, text in enumerate(texts):
        chunks = report_chunks(clip, text)
        pieces.extend(chunks)
        owners.extend([i] * len(chunks))
    emb = encode_texts(clip, pieces)
    index = torch.tensor(owners)
    pooled = torch.zeros(len(texts), emb.shape[1]).index_add_(0, index, emb)
    return F.normalize(pooled, dim=-1)


def _counter(clip: Any):
    return lambda s: token_count(clip, s)


def report_retrieval(clip: Any, features: torch.Tensor, reports: Sequence[str]) -> dict[str, float]:
    """Volume -> report and report -> volume retrieval with long reports pooled over chunks (``report_`` metrics);
    identical reports count as matches."""
    unique = list(dict.fromkeys(reports))
    text = encode_reports(clip, unique)
    relevant = np.zeros((len(reports), len(unique)), dtype=bool)
    relevant[np.arange(len(reports)), [unique.index(r) for r in reports]] = True
    sim = (features.float() @ text.T).numpy()
    out = retrieval_metrics(sim, relevant, prefix="volume_to_report_")
    out.update(retrieval_metrics(sim.T, relevant.T, prefix="report_to_volume_"))
    return out
