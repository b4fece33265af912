"""The one prediction path shared by the CLI and the MLflow server: read files, encode in batches, score labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .batch import move_to
from .domain import Domain
from .errors import ClipzooError, InputError
from .model import ClipModel
from .zeroshot import PromptPack, class_probabilities, classifier_weights

TASKS = ("classify", "embed")


@dataclass(frozen=True)
class InputItem:
    """One input: a file path, or bytes with the file name they came under (a served request)."""

    name: str
    data: bytes | None = None

    @classmethod
    def from_path(cls, path: str | Path) -> InputItem:
        return cls(name=str(path))


@dataclass
class Prediction:
    input: str
    labels: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    embedding: list[float] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": self.input,
            "labels": self.labels,
            "scores": self.scores,
            "error": self.error,
        }
        if self.embedding is not None:
            out["embedding"] = self.embedding
        return out


class Predictor:
    """Zero-shot prediction over files with a trained model and its domain."""

    def __init__(self, clip: ClipModel, domain: Domain, batch_size: int = 32, device: str | torch.device = "cpu"):
        self.clip = clip
        self.domain = domain
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.transform = domain.transform(clip.spec, train=False)
        self.clip.model.to(self.device).eval()
        self._classifiers: dict[tuple, torch.Tensor] = {}

    def _read(self, item: InputItem) -> torch.Tensor:
        try:
            raw = self.domain.read(item.name) if item.data is None else self.domain.read_bytes(item.data, item.name)
            return self.transform(raw)
        except ClipzooError:
            raise
        except Exception as err:
            raise InputError(f"cannot read as {self.domain.modality}: {err}", item.name) from err

    @torch.no_grad()
    def encode(self, items: Sequence[InputItem]) -> tuple[torch.Tensor | None, list[str | None]]:
        """Embeddings of the readable items (in order) and, per item, the error that kept it out (or None)."""
        tensors: list[torch.Tensor] = []
        errors: list[str | None] = []
        for item in items:
            try:
                tensors.append(self._read(item))
                errors.append(None)
            except ClipzooError as err:
                errors.append(str(err))
        if not tensors:
            return None, errors
        chunks = [
            self.clip.model.encode_image(
                move_to(self.domain.collate(tensors[i : i + self.batch_size]), self.device), normalize=True
            )
            .float()
            .cpu()
            for i in range(0, len(tensors), self.batch_size)
        ]
        return torch.cat(chunks), errors

    def classifier(self, pack: PromptPack) -> torch.Tensor:
        key = (pack.templates, tuple((c, s) for c, s in pack.classes.items()))
        if key not in self._classifiers:
            self._classifiers[key] = classifier_weights(self.clip, pack)
        return self._classifiers[key]

    def predict(
        self,
        items: Sequence[InputItem],
        labels: Sequence[str] | None = None,
        task: str = "classify",
        top_k: int = 5,
        templates: Sequence[str] | None = None,
        return_embeddings: bool = False,
    ) -> list[Prediction]:
        """Score each item against ``labels`` (each label expanded with ``templates``, by default the domain's),
        or only embed it (``task="embed"``). A bad item gets its error; the others are still answered."""
        if task not in TASKS:
            raise InputError(f"unknown task {task!r}; choose one of {TASKS}")
        if not items:
            raise InputError("no inputs given")
        if top_k < 1:
            raise InputError(f"top_k must be >= 1, got {top_k}")
        pack = None
        if task == "classify":
            if not labels:
                raise InputError("classification needs at least one label (the label list is empty)")
            pack = PromptPack.for_labels(labels, templates or self.domain.label_templates())
        features, errors = self.encode(items)
        probs = (
            class_probabilities(features, self.classifier(pack), self.clip) if pack and features is not None else None
        )
        results: list[Prediction] = []
        row = 0
        for item, error in zip(items, errors, strict=True):
            if error is not None:
                results.append(Prediction(input=item.name, error=error))
                continue
            pred = Prediction(input=item.name)
            if probs is not None:
                scores, order = probs[row].topk(min(top_k, probs.shape[1]))
                pred.labels = [pack.class_names[i] for i in order.tolist()]
                pred.scores = [round(float(s), 6) for s in scores]
            if return_embeddings or task == "embed":
                pred.embedding = features[row].tolist()
            results.append(pred)
            row += 1
        return results
