"""The ``slide`` prediction task: whole slides through the shared predict path (``clipzoo predict MODEL SLIDE --task
slide`` and the server's ``{"params": {"task": "slide"}}``), classified by MI-Zero top-K pooling of tile logits.

Labels come from the request (each expanded with its templates, by default the domain's), else from the "diagnosis"
prompt pack (synonyms x templates). Settings come from the request's options (``SlideOptions``). Each slide gets its
ranked labels and scores (softmax of the top-K pooled logits), ``k``, ``label_per_k``, ``tiles_used``,
``tiles_skipped``, the pyramid ``level`` read, ``mpp``, ``tile_px`` and, when asked, ``heatmap`` and ``tile_coords``.
A slide that cannot be used (not a slide, no tissue, too small, no mpp) gets its error; the others are answered.
``heatmap_dir`` is a folder on the machine that runs the prediction (the server's, when served). An uploaded slide
(base64 ``data``) must be a single file (.svs, .ndpi, .tif...), not a multi-file format such as .mrxs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from clipzoo.core.calibration import row_fields
from clipzoo.core.domain import Domain
from clipzoo.core.errors import ClipzooError, InputError
from clipzoo.core.predict import InputItem, Prediction, Predictor, PredictRequest
from clipzoo.core.zeroshot import PromptPack

from .scope import mpp_warnings
from .slide_options import SlideOptions
from .slide_zeroshot import SlidePrediction, classify_slide

TASK = "slide"
DEFAULT_PACK = "diagnosis"


def slide_pack(domain: Domain, labels: Sequence[str], templates: Sequence[str] | None) -> PromptPack:
    """The request's labels with its templates (default: the domain's), else the domain's "diagnosis" pack."""
    if labels:
        return PromptPack.for_labels(labels, templates or domain.label_templates())
    data = dict(domain.prompt_packs()[DEFAULT_PACK])
    if templates:
        data["templates"] = list(templates)
    return PromptPack.from_dict(DEFAULT_PACK, data)


def predict_slides(predictor: Predictor, request: PredictRequest) -> list[Prediction]:
    """One ``Prediction`` per item of ``request``, in order; a slide that cannot be used gets its error."""
    options = SlideOptions.parse(request.options)
    pack = slide_pack(predictor.domain, request.labels, request.templates)
    weights = predictor.classifier(pack)
    heatmaps = _heatmap_paths(request.items, options.heatmap_dir)
    results = []
    for item, heatmap in zip(request.items, heatmaps, strict=True):
        try:
            result = _classify_item(predictor, item, pack, weights, options, heatmap, request.return_embeddings)
        except ClipzooError as err:
            results.append(Prediction(input=item.name, error=str(err)))
            continue
        row = _to_prediction(item, result, request.top_k, options.tile_coords)
        row.warnings.extend(mpp_warnings(result.mpp, predictor.clip.spec.extra.get("scope") or {}, "the slide is read"))
        results.append(row)
    return results


def _classify_item(
    predictor: Predictor,
    item: InputItem,
    pack: PromptPack,
    weights: torch.Tensor,
    options: SlideOptions,
    heatmap: Path | None,
    with_embedding: bool,
) -> SlidePrediction:
    if not item.has_file:
        raise InputError("a text alone is not a slide: the slide task needs a slide file", item.name)
    with _slide_file(item) as path:
        try:
            return classify_slide(
                predictor.clip,
                path,
                pack,
                predictor.transform,
                mpp=options.mpp,
                tile_px=options.tile_px,
                ks=options.ks,
                k=options.k,
                batch_size=options.batch_size,
                min_tissue=options.min_tissue,
                slide_mpp=options.slide_mpp,
                heatmap=heatmap,
                weights=weights,
                with_embedding=with_embedding,
                features_dir=options.features_dir,
            )
        except InputError as err:
            if item.data is None:
                raise
            raise InputError(str(err).replace(str(path), item.name)) from err  # name the upload, not the temp file


@contextmanager
def _slide_file(item: InputItem) -> Iterator[Path]:
    """The slide's path: the item's own, or a temporary copy of its uploaded bytes under the upload's file name."""
    if item.data is None:
        yield Path(item.name)
        return
    with tempfile.TemporaryDirectory(prefix="clipzoo-slide-") as tmp:
        path = Path(tmp) / (Path(item.name).name or "upload")
        path.write_bytes(item.data)
        yield path


def _heatmap_paths(items: Sequence[InputItem], folder: str | None) -> list[Path | None]:
    """``<folder>/<slide file name>.heatmap.png`` per item (``-2``, ``-3``... for repeated names), or None."""
    if folder is None:
        return [None] * len(items)
    root = Path(folder).expanduser().resolve()
    seen: dict[str, int] = {}
    paths = []
    for item in items:
        name = Path(item.name).name or "slide"
        seen[name] = seen.get(name, 0) + 1
        suffix = "" if seen[name] == 1 else f"-{seen[name]}"
        paths.append(root / f"{name}{suffix}.heatmap.png")
    return paths


def _to_prediction(item: InputItem, result: SlidePrediction, top_k: int, with_coords: bool) -> Prediction:
    extra = {
        "k": result.k,
        "label_per_k": {str(k): label for k, label in result.label_per_k.items()},
        "tiles_used": result.tiles_used,
        "tiles_skipped": result.tiles_skipped,
        "level": result.level,
        "mpp": result.mpp,
        "tile_px": result.tile_px,
        "features_from": result.features_from,
        # the version's temperature is fitted on tiles; a slide's top-K pooled scores were never part of that fit
        **row_fields(None),
    }
    if result.heatmap:
        extra["heatmap"] = result.heatmap
    if with_coords:
        extra["tile_coords"] = result.tile_coords
    return Prediction(
        input=item.name,
        labels=result.labels[:top_k],
        scores=result.scores[:top_k],
        embedding=result.embedding,
        extra=extra,
    )
