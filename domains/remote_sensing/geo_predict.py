"""``classify-with-location``: zero-shot land cover with the GeoCLOSP location prior, in the shared predict path.

Each chip's centre (lon, lat) comes from its georeferencing; a label ``t`` scores ``t.v + w * t.g(lon, lat)`` (image
embedding ``v``, location embedding ``g``, ``w`` = option ``location_weight``, by default the spec's
``retrieval_weight``), then softmax with the model's logit scale, divided by the version's fitted temperature when it
has one (weight 0 gives the scores of plain classification). A raster without CRS is answered with an error naming
it; the other inputs are still answered.

    clipzoo predict clipzoo-remote_sensing@champion chip.tif --task classify-with-location --labels water flooded
"""

from __future__ import annotations

import torch
from clipzoo.core.calibration import row_fields
from clipzoo.core.errors import ClipzooError, InputError
from clipzoo.core.predict import InputItem, Prediction, Predictor, PredictRequest
from clipzoo.core.zeroshot import PromptPack

from .location import location_encoder_of
from .location_eval import location_aware_scores, location_features

TASK = "classify-with-location"


def _lonlat(predictor: Predictor, item: InputItem) -> tuple[float, float]:
    domain = predictor.domain
    sample = domain.read(item.name) if item.data is None else domain.read_bytes(item.data, item.name)
    if sample.lonlat is None:
        raise InputError(f"raster has no CRS, so no location (lon/lat), which {TASK} needs", item.name)
    return sample.lonlat


def classify_with_location(predictor: Predictor, request: PredictRequest) -> list[Prediction]:
    """Top-``top_k`` labels per chip, scored with image and location embeddings (``lon``/``lat`` in the answer)."""
    encoder = location_encoder_of(predictor.clip.model)
    if encoder is None:
        raise InputError(f"{TASK} needs a model with a location encoder (spec extra.location_encoder)")
    if not request.labels:
        raise InputError("classification needs at least one label (the label list is empty)")
    weight = float(request.options.get("location_weight", encoder.config.retrieval_weight))
    pack = PromptPack.for_labels(request.labels, request.templates or predictor.domain.label_templates())
    classes = predictor.classifier(pack)
    features, errors = predictor.encode(request.items)
    temperature = predictor.temperature
    scale = predictor.clip.model.logit_scale.exp().detach().float().cpu() / (temperature or 1.0)
    results: list[Prediction] = []
    row = -1
    for item, error in zip(request.items, errors, strict=True):
        if error is not None:
            results.append(Prediction(input=item.name, error=error))
            continue
        row += 1
        try:
            lon, lat = _lonlat(predictor, item)
        except ClipzooError as err:
            results.append(Prediction(input=item.name, error=str(err)))
            continue
        place = location_features(encoder, torch.tensor([[lon, lat]], dtype=torch.float64))
        scores = location_aware_scores(classes, features[row : row + 1], place, weight)[:, 0]
        probs, order = (scale * scores).softmax(dim=-1).topk(min(request.top_k, len(pack.class_names)))
        results.append(
            Prediction(
                input=item.name,
                labels=[pack.class_names[i] for i in order.tolist()],
                scores=[round(float(p), 6) for p in probs],
                embedding=features[row].tolist() if request.return_embeddings else None,
                extra={
                    "lon": round(lon, 6),
                    "lat": round(lat, 6),
                    "location_weight": weight,
                    **row_fields(temperature),
                },
            )
        )
    return results
