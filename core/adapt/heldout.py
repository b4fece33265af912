"""An adapted head scored on held-out rows, in one place for ``clipzoo adapt --heldout`` and ``clipzoo eval``: the
head against the zero-shot classifier of the same classes, on the rows labelled with one of its classes.

What a label column means (its classes, their prompts, the class of each raw value) is decided here too, so that the
shots, the held-out rows at adaptation and the held-out rows of a later evaluation read a column the same way: a
column one of the domain's zero-shot tasks scores keeps that task's prompt pack; a binary finding column (medical
multi-label) is a two-class column, present / absent; any other column's values are the classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data import Manifest
from ..domain import MULTILABEL, Domain
from ..errors import InputError
from ..metrics import auroc, balanced_accuracy, confusion_matrix, topk_accuracy
from ..zeroshot import PromptPack
from .head import AdaptedHead

ADAPTED = "adapted"  # numbers an adapted head gave
ZERO_SHOT = "zero-shot"  # numbers the zero-shot prompts gave


@dataclass(frozen=True)
class LabelSet:
    """What a label column means: its classes, their prompts, and the class of each raw value."""

    column: str
    pack: PromptPack
    binary: bool = False  # a 0/1 finding column: class 0 is "present", class 1 "absent"

    def labels(self, manifest: Manifest) -> list[str]:
        values = manifest.column(self.column)
        if not self.binary:
            return [str(v) for v in values]
        present, absent = self.pack.class_names
        try:
            return [present if int(v) == 1 else absent for v in values]
        except (TypeError, ValueError) as err:
            raise InputError(f"column {self.column!r} of a finding holds 0/1, got {err}", manifest.source) from err

    @property
    def primary_metric(self) -> str:
        """An adapted line's champion metric: its head's AUROC (a finding) or top-1 on the held-out rows."""
        return f"adapted_{self.column}_{'auroc' if self.binary else 'top1'}"


def _finding_task(domain: Domain, column: str):
    """The domain's zero-shot task scoring ``column`` with a known prompt pack, or None."""
    task = next((t for t in domain.zero_shot_tasks() if t.label_column == column), None)
    return task if task is not None and task.prompt_pack in domain.prompt_packs() else None


def label_set(domain: Domain, manifest: Manifest, column: str) -> LabelSet:
    """The classes of ``column`` in ``manifest`` and the prompts of each (see the module doc)."""
    values = [str(v) for v in manifest.column(column)]
    task = _finding_task(domain, column)
    if task is not None:
        pack = PromptPack.from_dict(task.prompt_pack, domain.prompt_packs()[task.prompt_pack])
        if task.kind == MULTILABEL:
            return LabelSet(column, pack, binary=True)
        unknown = sorted(set(values) - set(pack.classes))
        if unknown:
            raise InputError(f"column {column!r}: values {unknown} are not classes of {pack.name!r}", manifest.source)
        kept = {c: pack.classes[c] for c in pack.class_names if c in set(values)}
        return LabelSet(column, PromptPack(pack.name, pack.templates, kept))
    classes = sorted(set(values))
    return LabelSet(column, PromptPack.for_labels(classes, domain.label_templates(), name=column))


def head_label_set(domain: Domain, head: AdaptedHead) -> LabelSet:
    """The label column an adapted head was fitted on, read as it was at adaptation (its classes in its order)."""
    column = head.info.get("label_column")
    if not column:
        raise InputError("the adapted head records no label column")
    binary = head.info.get("binary")
    if binary is None:  # a head saved before heads recorded it: the domain says whether the column is a finding
        task = _finding_task(domain, column)
        binary = task is not None and task.kind == MULTILABEL
    pack = PromptPack(str(head.info.get("prompt_pack") or column), ("{}",), {c: (c,) for c in head.classes})
    return LabelSet(column, pack, binary=bool(binary))


@dataclass
class HeadScores:
    """The head's metrics (``adapted_<column>_*``) beside its zero-shot classifier's (``zero_shot_<column>_*``) on
    the ``rows`` held-out rows of its classes (``left_out``: rows of other classes)."""

    metrics: dict[str, float]
    column: str
    rows: int
    left_out: int
    confusion: tuple[np.ndarray, list[str]] | None = None  # the adapted head's (a multi-class column)
    classes: list[str] = field(default_factory=list)

    def note(self, head: AdaptedHead) -> str:
        """Which numbers the head gives, for a terminal and a run's tag."""
        other = f"; {self.left_out} rows of other classes left out" if self.left_out else ""
        return (f"adapted_{self.column}_*: {head.describe()} on the {self.rows} held-out rows of its classes "
                f"({', '.join(self.classes)}){other}; zero_shot_{self.column}_*: its zero-shot classifier on the "
                "same rows")  # fmt: skip


def score_head(head: AdaptedHead, features: torch.Tensor, labels: LabelSet, manifest: Manifest) -> HeadScores:
    """The adapted head against the zero-shot classifier of the same classes on the held-out ``manifest``, whose
    rows' L2-normalised image embeddings are ``features`` (in order); rows of classes the head does not know are
    left out, and a manifest with none of its classes is refused."""
    if len(features) != len(manifest):
        raise ValueError(f"{len(features)} embeddings for {len(manifest)} held-out rows")
    values = labels.labels(manifest)
    keep = [i for i, v in enumerate(values) if v in head.classes]
    if not keep:
        raise InputError(f"no held-out row has a class of the shots ({', '.join(head.classes)})", manifest.source)
    kept = features[keep]
    targets = np.array([head.classes.index(values[i]) for i in keep])
    column = labels.column
    metrics: dict[str, float] = {}
    adapted = head.logits(kept)
    for name, logits in (("adapted", adapted), ("zero_shot", head.zero_shot_logits(kept))):
        if labels.binary:
            present = logits.softmax(-1)[:, 0].numpy()
            metrics[f"{name}_{column}_auroc"] = auroc(present, (targets == 0).astype(int))
        else:
            metrics[f"{name}_{column}_top1"] = topk_accuracy(logits, targets, ks=(1,))[1]
            metrics[f"{name}_{column}_balanced_accuracy"] = balanced_accuracy(logits.argmax(1).numpy(), targets)
    confusion = None
    if not labels.binary:
        matrix = confusion_matrix(adapted.argmax(1).numpy(), targets, len(head.classes))
        confusion = (matrix, list(head.classes))
    return HeadScores(metrics, column, len(keep), len(values) - len(keep), confusion, list(head.classes))
