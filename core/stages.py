"""Training stages as data: what a domain's training recipe trains, in which order, on which input.

A single-stage domain declares nothing: it trains one contrastive stage on the training data. A domain that needs
more (RadCLIP's 2D stage before slice pooling, CLIP4Cir's Combiner after the contrastive stage) lists its stages in
``Domain.stages``; ``clipzoo train`` and ``clipzoo demo`` run the same list through the same job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRAIN_INPUT = "train"  # the input named by ``--data``


@dataclass
class StageReport:
    """What a domain's own stage fit did, for the run and the model card: parameters, a curve, one line."""

    summary: str
    params: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)


# fit(clip, domain, inputs, settings) -> StageReport. ``inputs`` maps input names to files (the training manifest
# under "train"); ``settings`` are the stage's own settings (``TrainConfig.stages[stage.name]``, plus ``seed``).
StageFit = Callable[[Any, Any, Mapping[str, Path], Mapping[str, Any]], StageReport]
# locate(training data) -> where this stage's input lies by convention, or None.
InputLocator = Callable[[Path], "Path | None"]


@dataclass(frozen=True)
class Stage:
    """One step of a training recipe.

    ``input`` names the data the stage reads: ``"train"`` (the training data) or a named input (``--input
    NAME=PATH``; demo data brings its own); ``locate`` finds it beside the training data when not given. An
    ``optional`` stage whose input is missing is skipped, and the run says so. A contrastive stage (``fit`` is None)
    runs core's Trainer with the job's settings, overridden by ``TrainConfig.stages[name]``, the spec's loss or
    ``loss``, and the image trunk frozen when ``lock_image`` or when the stage ``lock_image_after`` names has run.
    A stage with ``fit`` runs the domain's own closed-form or head training on the model as it stands.
    """

    name: str
    description: str
    input: str = TRAIN_INPUT
    optional: bool = False
    loss: str | None = None
    lock_image: bool = False
    lock_image_after: str | None = None
    fit: StageFit | None = None
    locate: InputLocator | None = None

    @property
    def contrastive(self) -> bool:
        return self.fit is None

    def find_input(self, inputs: Mapping[str, Path]) -> Path | None:
        """This stage's input file: given, or located beside the training data, or None."""
        if self.input in inputs:
            return Path(inputs[self.input])
        if self.locate is not None and TRAIN_INPUT in inputs:
            found = self.locate(Path(inputs[TRAIN_INPUT]))
            return found if found is not None and found.exists() else None
        return None


CONTRASTIVE = Stage("contrastive", "contrastive image-text training")
