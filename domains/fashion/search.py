"""The ``search`` prediction task: the top-k products of a catalogue folder for each query, in ``clipzoo predict``
and the server alike.

A query is a text alone (text -> product search), a file alone (image -> product) or a file with a text (composed:
reference image + modification text, through the model's trained Combiner, else the element-wise sum). Each answer
holds ``ids`` (product ids, best first), ``scores`` (cosine), ``labels`` (the products' titles, else their ids) and
``query`` (which kind it was), and ``note`` when a composed query fell back to the sum (a model without a trained
Combiner, such as an imported checkpoint). Request options: ``nprobe`` (ivf) and ``ef_search`` (hnsw) trade recall for
speed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from weakref import WeakKeyDictionary

import numpy as np
import torch
from clipzoo.core.errors import InputError
from clipzoo.core.predict import InputItem, Prediction, Predictor, PredictRequest
from torch import nn

from .catalogue import CATALOGUE_FILE, Catalogue, towers_sha256
from .combiner import compose, uses_combiner

TASK = "search"
SUM_NOTE = "no trained Combiner: the query is the normalised sum of the image and text embeddings (CLIP4Cir's baseline)"
_OPEN: OrderedDict[tuple[str, int], Catalogue] = OrderedDict()  # a server keeps its catalogues loaded
_OPEN_MAX = 4
_TOWERS: WeakKeyDictionary[nn.Module, str] = WeakKeyDictionary()  # a served model's weights never change


def open_catalogue(folder: str | None) -> Catalogue:
    """The catalogue in ``folder``, loaded once and again only after it is rebuilt."""
    if not folder:
        raise InputError("the search task needs a catalogue folder (CLI: --catalogue DIR; server: params.catalogue)")
    path = Path(folder).expanduser().resolve()
    stamp = path / CATALOGUE_FILE
    key = (str(path), stamp.stat().st_mtime_ns if stamp.is_file() else -1)
    if key not in _OPEN:
        _OPEN[key] = Catalogue.load(path)
        while len(_OPEN) > _OPEN_MAX:
            _OPEN.popitem(last=False)
    _OPEN.move_to_end(key)
    return _OPEN[key]


def _towers(model: nn.Module) -> str:
    if model not in _TOWERS:
        _TOWERS[model] = towers_sha256(model)
    return _TOWERS[model]


def search_task(predictor: Predictor, request: PredictRequest) -> list[Prediction]:
    """Answer each item of ``request`` with the top ``request.top_k`` products of ``request.catalogue``."""
    catalogue = open_catalogue(request.catalogue)
    catalogue.check_model(predictor.clip, _towers(predictor.clip.model), request.catalogue)
    catalogue.tune(request.options)
    return search(predictor, catalogue, request.items, request.top_k, request.return_embeddings)


def _kind(item: InputItem, text: str, model: nn.Module) -> str | None:
    if item.has_file and text:
        return "image+text (Combiner)" if uses_combiner(model) else "image+text (sum)"
    return "image" if item.has_file else "text" if text else None


def _neither(position: int, item: InputItem) -> str:
    return f"{item.name.strip() or f'input {position}'}: a catalogue query needs an image, a text or both; got neither"


@torch.no_grad()
def query_embeddings(
    predictor: Predictor, items: Sequence[InputItem]
) -> tuple[list[torch.Tensor | None], list[str | None], list[str | None]]:
    """Per item: its query embedding (or None), the error that kept it out (or None) and its kind."""
    model = predictor.clip.model
    texts = [(item.text or "").strip() for item in items]
    kinds = [_kind(item, text, model) for item, text in zip(items, texts, strict=True)]
    errors: list[str | None] = [None if kinds[i] else _neither(i, item) for i, item in enumerate(items)]
    file_rows = [i for i, item in enumerate(items) if item.has_file]
    image_feats, image_errors = predictor.encode([items[i] for i in file_rows]) if file_rows else (None, [])
    images: dict[int, torch.Tensor] = {}
    readable = iter(image_feats if image_feats is not None else [])
    for i, err in zip(file_rows, image_errors, strict=True):
        if err:
            errors[i] = err
        else:
            images[i] = next(readable)
    unique = sorted({t for t, err in zip(texts, errors, strict=True) if t and err is None})
    text_feats = dict(zip(unique, predictor.encode_text(unique), strict=True)) if unique else {}
    queries: list[torch.Tensor | None] = [None] * len(items)
    composed = [i for i in images if texts[i]]
    if composed:
        image = torch.stack([images[i] for i in composed])
        text = torch.stack([text_feats[texts[i]] for i in composed])
        for i, q in zip(composed, compose(model, image, text), strict=True):
            queries[i] = q
    for i in range(len(items)):
        if errors[i] is None and queries[i] is None:
            queries[i] = images[i] if i in images else text_feats[texts[i]]
    return queries, errors, kinds


def search(
    predictor: Predictor,
    catalogue: Catalogue,
    items: Sequence[InputItem],
    k: int,
    return_embeddings: bool = False,
) -> list[Prediction]:
    """One Prediction per item: the top-k products of ``catalogue`` (the model check is the caller's)."""
    if k < 1:
        raise InputError(f"top_k must be >= 1, got {k}")
    queries, errors, kinds = query_embeddings(predictor, items)
    rows = [i for i, q in enumerate(queries) if q is not None]
    scores, hits = (
        catalogue.index.search_rows(torch.stack([queries[i] for i in rows]).numpy(), k) if rows else (None, None)
    )
    out = [Prediction(input=item.name, error=errors[i]) for i, item in enumerate(items)]
    for j, i in enumerate(rows):
        found = [(int(r), float(s)) for r, s in zip(hits[j], scores[j], strict=True) if r >= 0]
        ids = [catalogue.index.ids[r] for r, _ in found]
        out[i].labels = [catalogue.label(pid, r) for pid, (r, _) in zip(ids, found, strict=True)]
        out[i].scores = [s for _, s in found]
        out[i].extra = {"ids": ids, "query": kinds[i]}
        if kinds[i] == "image+text (sum)":
            out[i].extra["note"] = SUM_NOTE
        if return_embeddings:
            out[i].embedding = np.asarray(queries[i], dtype=np.float32).tolist()
    return out
