"""The one prediction path shared by the CLI and the MLflow server: read files, encode in batches, score labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .batch import move_to
from .calibration import row_fields, temperature_of
from .domain import Domain
from .errors import ClipzooError, InputError
from .guards import check_deadline
from .model import ClipModel
from .notes import gathering, note, reading
from .sizes import check_input_size
from .trust import CALIBRATION, row_findings
from .zeroshot import PromptPack, class_probabilities, classifier_weights, encode_texts, is_sigmoid

TASKS = ("classify", "embed")


@dataclass(frozen=True)
class InputItem:
    """One input: a file path, or bytes with the file name they came under (a served request), optionally with a
    text (a query, or the modification of a composed query); a text alone is an item too (``name`` labels it)."""

    name: str
    data: bytes | None = None
    text: str | None = None
    has_file: bool = True

    @classmethod
    def from_path(cls, path: str | Path, text: str | None = None) -> InputItem:
        return cls(name=str(path), text=text)

    @classmethod
    def from_text(cls, text: str, name: str | None = None) -> InputItem:
        return cls(name=name or text, text=text, has_file=False)


@dataclass
class Prediction:
    input: str
    labels: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    embedding: list[float] | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what a domain task adds: product ids, tile counts...
    warnings: list[str] = field(default_factory=list)  # what reading the input noticed (plain sentences)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input": self.input,
            "labels": self.labels,
            "scores": self.scores,
            "error": self.error,
            "warnings": list(self.warnings),
        }
        if self.embedding is not None:
            out["embedding"] = self.embedding
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class PredictRequest:
    """Everything a prediction was asked with; domain tasks read what they need from it."""

    items: Sequence[InputItem]
    task: str = "classify"
    labels: Sequence[str] = ()
    templates: Sequence[str] | None = None
    top_k: int = 5
    return_embeddings: bool = False
    catalogue: str | None = None  # a folder the task searches (a product index, say)
    options: dict[str, Any] = field(default_factory=dict)  # task-specific settings


@dataclass(frozen=True)
class _Scorer:
    """Class names, features -> [N, C] probabilities, a note for each row (which classifier answered), the fitted
    temperature the scores are divided by (None: not calibrated) and whether the adapted head answered."""

    classes: list[str]
    probabilities: Callable[[torch.Tensor], torch.Tensor]
    note: str | None = None
    temperature: float | None = None
    head: bool = False


# A domain task: (predictor, request) -> one Prediction per item. Domains declare theirs in ``Domain.prediction_tasks``.
PredictionTask = Callable[["Predictor", PredictRequest], list[Prediction]]


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
            with reading(item.name):  # the reader's notes become this input's warnings
                raw = self.domain.read(item.name) if item.data is None else self.domain.read_bytes(item.data, item.name)
                size = self.domain.input_size(raw)
                if size is not None:
                    check_input_size(*size, self.clip.spec.image_size, item.name)
                for warning in self.domain.scope_warnings(raw, self.clip.spec.extra.get("scope") or {}):
                    note(warning)
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
            check_deadline()  # between rows: a request past its time limit stops computing
            if not item.has_file:
                errors.append(f"{item.name}: a text alone cannot be {self.domain.modality} input for this task")
                continue
            try:
                tensors.append(self._read(item))
                errors.append(None)
            except ClipzooError as err:
                errors.append(str(err))
        if not tensors:
            return None, errors
        chunks = []
        for i in range(0, len(tensors), self.batch_size):
            check_deadline()  # between batches
            batch = move_to(self.domain.collate(tensors[i : i + self.batch_size]), self.device)
            chunks.append(self.clip.model.encode_image(batch, normalize=True).float().cpu())
        features = torch.cat(chunks)
        self._flag_unfamiliar([it for it, err in zip(items, errors, strict=True) if err is None], features)
        return features, errors

    def _flag_unfamiliar(self, items: Sequence[InputItem], features: torch.Tensor) -> None:
        """A warning in the row of each input whose embedding lies beyond the version's held-out statistics."""
        stats = self.clip.ood
        if stats is None:
            return
        for item, distance in zip(items, stats.distances(features).tolist(), strict=True):
            warning = stats.warning(distance)
            if warning is not None:
                with reading(item.name):
                    note(warning)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings, in batches."""
        return encode_texts(self.clip, texts, batch_size=self.batch_size)

    def tasks(self) -> tuple[str, ...]:
        return TASKS + tuple(self.domain.prediction_tasks())

    def classifier(self, pack: PromptPack) -> torch.Tensor:
        key = (pack.templates, tuple((c, s) for c, s in pack.classes.items()))
        if key not in self._classifiers:
            self._classifiers[key] = classifier_weights(self.clip, pack)
        return self._classifiers[key]

    def predict(self, items: Sequence[InputItem], *args: Any, **kwargs: Any) -> list[Prediction]:
        """``_predict`` (below), each row with the warnings noted while its input was read."""
        with gathering() as notes:
            results = self._predict(items, *args, **kwargs)
        for result in results:
            result.warnings.extend(n for n in notes.get(result.input, ()) if n not in result.warnings)
        return results

    def _predict(
        self,
        items: Sequence[InputItem],
        labels: Sequence[str] | None = None,
        task: str = "classify",
        top_k: int = 5,
        templates: Sequence[str] | None = None,
        return_embeddings: bool = False,
        catalogue: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> list[Prediction]:
        """Score each item against ``labels`` (each label expanded with ``templates``, by default the domain's),
        only embed it (``task="embed"``: a text item gets its text embedding), or run one of the domain's own tasks
        (a catalogue search, a whole-slide classification...). A bad item gets its error; the others are answered."""
        if task not in self.tasks():
            raise InputError(f"unknown task {task!r} for domain {self.domain.name!r}; choose one of {self.tasks()}")
        if not items:
            raise InputError("no inputs given")
        items = [expanded for item in items for expanded in self._expand(item)]
        if top_k < 1:
            raise InputError(f"top_k must be >= 1, got {top_k}")
        if task not in TASKS:
            request = PredictRequest(
                items=items,
                task=task,
                labels=tuple(labels or ()),
                templates=tuple(templates) if templates else None,
                top_k=top_k,
                return_embeddings=return_embeddings,
                catalogue=catalogue,
                options=dict(options or {}),
            )
            return self.domain.prediction_tasks()[task](self, request)
        if task == "embed" and any(not item.has_file for item in items):
            return self._embed_mixed(items)
        scorer = self._scorer(labels or (), templates) if task == "classify" else None
        features, errors = self.encode(items)
        probs = scorer.probabilities(features) if scorer is not None and features is not None else None
        findings = row_findings(self.clip, features, self.classifier, scorer.head) if probs is not None else None
        results: list[Prediction] = []
        row = 0
        for item, error in zip(items, errors, strict=True):
            if error is not None:
                results.append(Prediction(input=item.name, error=error))
                continue
            pred = Prediction(input=item.name)
            if probs is not None:
                scores, order = probs[row].topk(min(top_k, probs.shape[1]))
                pred.labels = [scorer.classes[i] for i in order.tolist()]
                pred.scores = [round(float(s), 6) for s in scores]
                if scorer.note:
                    pred.extra["classifier"] = scorer.note
                pred.extra.update(row_fields(scorer.temperature))
                if findings is not None:
                    pred.extra["findings"] = findings[row]
            if return_embeddings or task == "embed":
                pred.embedding = features[row].tolist()
            results.append(pred)
            row += 1
        return results

    def _scorer(self, labels: Sequence[str], templates: Sequence[str] | None) -> _Scorer:
        """How labels are scored: an adapted model's head for its own classes (all of them when no labels are
        given, or the subset asked for), else the zero-shot classifier of the labels, saying so on an adapted
        model."""
        head = self.clip.head
        if head is not None and not templates and set(labels) <= set(head.classes):
            classes = list(labels) if labels else head.classes
            return _Scorer(classes, lambda f: head.probabilities(f, classes), head.describe(), head.temperature, True)
        if not labels:
            raise InputError(
                "classification needs candidate labels: give --labels LABEL [LABEL ...] (served: the 'labels' "
                "param); only an adapted model (clipzoo adapt) has classes of its own"
            )
        pack = PromptPack.for_labels(labels, templates or self.domain.label_templates())
        weights = self.classifier(pack)
        note = None
        if head is not None:
            outside = [lb for lb in labels if lb not in head.classes]
            why = f"labels outside the adapted classes ({', '.join(outside)})" if outside else "templates given"
            note = f"zero-shot: {why}"
        temperature = self.temperature
        probabilities = lambda f: class_probabilities(f, weights, self.clip, temperature)  # noqa: E731
        return _Scorer(pack.class_names, probabilities, note, temperature)

    @property
    def temperature(self) -> float | None:
        """The zero-shot classifier's fitted temperature (None: not calibrated, or a SigLIP model's sigmoids)."""
        return None if is_sigmoid(self.clip) else temperature_of(self.clip.spec.extra.get(CALIBRATION))

    def _expand(self, item: InputItem) -> list[InputItem]:
        if item.data is not None or not item.has_file:
            return [item]
        return [InputItem.from_path(name, item.text) for name in self.domain.expand_input(item.name)]

    def _embed_mixed(self, items: Sequence[InputItem]) -> list[Prediction]:
        """Embeddings for a mix of files and texts (text -> its text-tower embedding), in item order."""
        files = [item for item in items if item.has_file]
        file_preds = iter(self.predict(files, task="embed") if files else [])
        texts = [item.text or "" for item in items if not item.has_file]
        text_embs = iter(self.encode_text(texts))
        return [
            next(file_preds) if item.has_file else Prediction(input=item.name, embedding=next(text_embs).tolist())
            for item in items
        ]
