"""The fashion recipe's second stage (CLIP4Cir): the Combiner trained on triplets with CLIP frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from clipzoo.core.data import Manifest
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import encode_manifest
from clipzoo.core.model import ClipModel
from clipzoo.core.stages import TRAIN_INPUT, Stage, StageReport

from .composed import CombinerConfig, train_combiner
from .triplets import read_triplets, triplets_path_for

TRIPLETS_INPUT = "train_triplets"


def combiner_config(settings: Mapping[str, Any]) -> CombinerConfig:
    """The stage's settings (``--stage combiner.epochs=40``...) as a ``CombinerConfig``."""
    known = {f.name for f in fields(CombinerConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InputError(f"stage 'combiner': unknown setting(s) {unknown}; it takes {sorted(known)}")
    return CombinerConfig(**dict(settings))


def fit_combiner(clip: ClipModel, domain: Any, inputs: Mapping[str, Path], settings: Mapping[str, Any]) -> StageReport:
    """Encode the training products once with the (now frozen) model, then fit the Combiner on the triplets."""
    config = combiner_config(settings)
    manifest = Manifest.read(inputs[TRAIN_INPUT])
    triplets = read_triplets(inputs[TRIPLETS_INPUT], manifest)
    features = encode_manifest(clip, domain, manifest)
    losses = train_combiner(clip, features, triplets, config)
    source = f"{inputs[TRIPLETS_INPUT]} ({len(triplets)} rows)"
    return StageReport(
        summary=f"{len(triplets)} triplets from {inputs[TRIPLETS_INPUT]}, {config.epochs} epochs, CLIP frozen",
        params={**asdict(config), "triplets": source},
        curves={"combiner_loss": losses},
    )


COMBINER = Stage(
    "combiner",
    "the CLIP4Cir Combiner on (reference, modification, target) triplets, CLIP frozen; without triplets, "
    "composed queries use the element-wise sum",
    input=TRIPLETS_INPUT,
    optional=True,
    fit=fit_combiner,
    locate=triplets_path_for,
)
