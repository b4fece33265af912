"""Evaluate a model on a held-out manifest: the domain's zero-shot tasks and image<->text retrieval, and an adapted
model's few-shot head on the rows of the classes it adapted (``clipzoo.core.adapt.heldout``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from .adapt.heldout import head_label_set, score_head
from .batch import move_to
from .data import Manifest, ManifestDataset, collate_with
from .domain import CLASSIFICATION, Domain, ZeroShotTask
from .errors import InputError
from .metrics import auroc_with_ci, balanced_accuracy, confusion_matrix, retrieval_metrics, topk_accuracy
from .model import ClipModel
from .progress import Progress
from .trust import evaluate_trust
from .zeroshot import PromptPack, class_probabilities, classifier_weights, encode_texts


@dataclass
class EvalReport:
    metrics: dict[str, float] = field(default_factory=dict)
    confusion: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # which numbers an adapted head gives (none: all zero-shot)
    features: torch.Tensor | None = None  # the rows' L2-normalised embeddings, in order


@torch.no_grad()
def encode_manifest(clip: ClipModel, domain: Domain, manifest: Manifest, batch_size: int = 64) -> torch.Tensor:
    """L2-normalised embeddings of every row of a manifest, in order."""
    dataset = ManifestDataset(manifest, domain, domain.transform(clip.spec, train=False))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_with(domain))
    device = next(clip.model.parameters()).device
    clip.model.eval()
    chunks = [
        clip.model.encode_image(move_to(batch["input"], device), normalize=True).float().cpu()
        for batch in Progress(loader, total=len(loader), desc="encode held-out")
    ]
    return torch.cat(chunks)


def evaluate_classification(
    clip: ClipModel, features: torch.Tensor, labels: list[str], pack: PromptPack, name: str
) -> EvalReport:
    unknown = sorted(set(labels) - set(pack.classes))
    if unknown:
        raise InputError(f"task {name!r}: labels {unknown} have no prompts in pack {pack.name!r}")
    weights = classifier_weights(clip, pack)
    logits = features @ weights.T
    targets = np.array([pack.class_names.index(lb) for lb in labels])
    preds = logits.argmax(dim=1).numpy()
    top = topk_accuracy(logits, targets, ks=(1, 5))
    report = EvalReport()
    report.metrics[f"{name}_top1"] = top[1]
    report.metrics[f"{name}_top5"] = top[5]
    report.metrics[f"{name}_balanced_accuracy"] = balanced_accuracy(preds, targets)
    report.confusion[name] = (confusion_matrix(preds, targets, len(pack.class_names)), pack.class_names)
    return report


def evaluate_multilabel(
    clip: ClipModel, features: torch.Tensor, labels: np.ndarray, pack: PromptPack, name: str, n_resamples: int = 1000
) -> dict[str, float]:
    """P(present) from the softmax over the pack's two classes (present first), scored by AUROC with a bootstrap CI;
    empty when the labels hold one class only (AUROC is undefined)."""
    if len(pack.class_names) != 2:
        raise InputError(f"multilabel task {name!r}: prompt pack {pack.name!r} needs two classes (present, absent)")
    if len(np.unique(labels)) < 2:
        return {}
    probability = class_probabilities(features, classifier_weights(clip, pack), clip)[:, 0].numpy()
    result = auroc_with_ci(probability, labels, n_resamples=n_resamples)
    return {f"{name}_auroc": result["auroc"], f"{name}_auroc_ci_low": result["ci_low"],
            f"{name}_auroc_ci_high": result["ci_high"]}  # fmt: skip


def evaluate_retrieval(clip: ClipModel, features: torch.Tensor, captions: list[str]) -> dict[str, float]:
    """Image->text and text->image retrieval over the held-out captions; identical captions count as matches."""
    unique = list(dict.fromkeys(captions))
    text = encode_texts(clip, unique)
    relevant = np.zeros((len(captions), len(unique)), dtype=bool)
    relevant[np.arange(len(captions)), [unique.index(c) for c in captions]] = True
    sim = (features @ text.T).numpy()
    out = retrieval_metrics(sim, relevant, prefix="image_to_text_")
    out.update(retrieval_metrics(sim.T, relevant.T, prefix="text_to_image_"))
    return out


def evaluate(
    clip: ClipModel, domain: Domain, manifest: Manifest, tasks: list[ZeroShotTask] | None = None
) -> EvalReport:
    """Every zero-shot task of the domain on a held-out manifest, plus retrieval when it has captions, and how the
    version's recorded calibration and operating points hold there (``clipzoo.core.trust.evaluate_trust``)."""
    tasks = domain.zero_shot_tasks() if tasks is None else tasks
    features = encode_manifest(clip, domain, manifest)
    packs = domain.prompt_packs()
    report = EvalReport()
    group_aurocs: dict[str, list[float]] = {}
    for task in tasks:
        if task.prompt_pack not in packs:
            raise InputError(f"task {task.name!r} names unknown prompt pack {task.prompt_pack!r}")
        pack = PromptPack.from_dict(task.prompt_pack, packs[task.prompt_pack])
        if task.kind == CLASSIFICATION:
            part = evaluate_classification(
                clip, features, [str(v) for v in manifest.column(task.label_column)], pack, task.name
            )
            report.metrics.update(part.metrics)
            report.confusion.update(part.confusion)
        elif task.label_column in manifest.frame.columns:
            labels = np.asarray(manifest.column(task.label_column), dtype=np.int64)
            found = evaluate_multilabel(clip, features, labels, pack, task.name)
            report.metrics.update(found)
            if found:
                group_aurocs.setdefault(task.group, []).append(found[f"{task.name}_auroc"])
    for group, values in group_aurocs.items():
        report.metrics[f"{group}_mean_auroc"] = float(np.mean(values))
    if "caption" in manifest.frame.columns:
        report.metrics.update(evaluate_retrieval(clip, features, manifest.captions()))
    report.metrics.update(domain.extra_metrics(clip, manifest, features))
    if clip.head is not None:
        evaluate_head(clip, domain, manifest, features, report)
    report.metrics.update(evaluate_trust(clip, domain, manifest, features))
    report.features = features
    return report


def evaluate_head(clip: ClipModel, domain: Domain, manifest: Manifest, features: torch.Tensor,
                  report: EvalReport) -> None:  # fmt: skip
    """An adapted model's head on the held-out rows of its classes, as ``clipzoo adapt --heldout`` scored it (the
    same ``adapted_<column>_*`` and ``zero_shot_<column>_*`` metrics), into ``report`` with a note of what it
    scored; every other metric stays zero-shot."""
    head = clip.head
    labels = head_label_set(domain, head)
    if labels.column not in manifest.frame.columns:
        report.notes.append(f"the adapted head ({head.describe()}) is not scored: no column {labels.column!r}; "
                            "every metric is zero-shot")  # fmt: skip
        return
    values = set(labels.labels(manifest))
    if not values & set(head.classes):
        report.notes.append(f"the adapted head ({head.describe()}) is not scored: no row of its classes "
                            f"({', '.join(head.classes)}); every metric is zero-shot")  # fmt: skip
        return
    scores = score_head(head, features, labels, manifest)
    report.metrics.update(scores.metrics)
    if scores.confusion is not None:
        report.confusion[f"adapted_{labels.column}"] = scores.confusion
    report.notes.append(f"{scores.note(head)}; every other metric zero-shot")
