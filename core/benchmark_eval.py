"""Evaluate a model on a converted benchmark manifest: the tasks core knows (classification, multilabel, retrieval),
and the domain's evaluators for the others (composed retrieval, slides).

An adapted model scores a classification benchmark whose classes are all among its head's with that head, restricted
to the benchmark's classes; anything else is scored zero-shot, and the report says which (``scored_by``, ``note``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .adapt.head import AdaptedHead
from .adapt.heldout import ADAPTED, ZERO_SHOT
from .benchmark import CLASSIFICATION, MULTILABEL, RETRIEVAL, Benchmark
from .data import Manifest
from .domain import Domain
from .errors import InputError
from .evaluate import encode_manifest
from .metrics import auroc, balanced_accuracy, confusion_matrix, retrieval_metrics, topk_accuracy
from .model import ClipModel
from .zeroshot import PromptPack, classifier_weights, encode_texts

RETRIEVAL_KS = (1, 5, 10, 50)


@dataclass
class BenchmarkReport:
    """The metrics (the benchmark's ``metric`` among them) and what the figures are drawn from."""

    metrics: dict[str, float]
    confusion: tuple[np.ndarray, list[str]] | None = None
    per_class: dict[str, float] = field(default_factory=dict)  # accuracy or AUROC of each class
    recall_curve: dict[int, float] = field(default_factory=dict)  # retrieval: R@K by K
    scored_by: str = ZERO_SHOT  # or ADAPTED: an adapted model's head gave the numbers
    note: str | None = None  # an adapted model's: how its head was (not) used


def benchmark_pack(benchmark: Benchmark, manifest: Manifest) -> PromptPack:
    """The benchmark's published classes and templates. A benchmark without classes takes its split's labels, each
    worded by its rows' ``text_column`` when it names one (a gloss ``HOUSE2`` prompted as "house")."""
    if benchmark.classes:
        return PromptPack.from_dict(benchmark.name, benchmark.prompt_pack())
    labels = [str(v) for v in manifest.column(benchmark.label_column)]
    if not benchmark.text_column:
        return PromptPack.for_labels(sorted(set(labels)), benchmark.templates, name=benchmark.name)
    classes: dict[str, list[str]] = {}
    for label, text in zip(labels, manifest.column(benchmark.text_column), strict=True):
        words = classes.setdefault(label, [])
        if str(text) not in words:
            words.append(str(text))
    return PromptPack.from_dict(benchmark.name, {"templates": list(benchmark.templates),
                                                 "classes": dict(sorted(classes.items()))})  # fmt: skip


def evaluate_classification(clip: ClipModel, features: torch.Tensor, manifest: Manifest, pack: PromptPack,
                            column: str, head: AdaptedHead | None = None) -> BenchmarkReport:  # fmt: skip
    """Top-1 (top-5 beyond five classes), balanced accuracy, per-class accuracy; zero-shot with the pack's prompts,
    or with an adapted ``head`` restricted to the pack's classes (all of them among the head's)."""
    labels = [str(v) for v in manifest.column(column)]
    unknown = sorted(set(labels) - set(pack.classes))
    if unknown:
        raise InputError(f"labels {unknown[:10]} of column {column!r} are not benchmark classes", manifest.source)
    names = pack.class_names
    if head is None:
        logits = features @ classifier_weights(clip, pack).T
    else:
        logits = head.logits(features)[:, [head.classes.index(c) for c in names]]
    targets = np.array([names.index(lb) for lb in labels])
    preds = logits.argmax(1).numpy()
    ks = (1, 5) if len(names) > 5 else (1,)
    top = topk_accuracy(logits, targets, ks=ks)
    metrics = {f"top{k}": top[k] for k in ks}
    metrics["balanced_accuracy"] = balanced_accuracy(preds, targets)
    per_class = {c: float((preds[targets == i] == i).mean()) for i, c in enumerate(names) if (targets == i).any()}
    return BenchmarkReport(metrics, (confusion_matrix(preds, targets, len(names)), names), per_class)


def evaluate_multilabel(clip: ClipModel, features: torch.Tensor, manifest: Manifest,
                        benchmark: Benchmark) -> BenchmarkReport:  # fmt: skip
    """Each class a 0/1 column: scored by its present/absent prompt pair when the benchmark has one, else by the
    cosine to its prompts; AUROC per class (classes whose column holds one value are skipped) and their mean."""
    per_class: dict[str, float] = {}
    for name, synonyms in benchmark.classes.items():
        truth = np.asarray(manifest.column(name), dtype=float)
        if len(np.unique(truth)) < 2:
            continue
        present = PromptPack(name, benchmark.templates, {name: tuple(synonyms)})
        weights = classifier_weights(clip, present)
        if name in benchmark.negatives:
            absent = PromptPack(name, benchmark.templates, {f"no {name}": tuple(benchmark.negatives[name])})
            pair = torch.cat([weights, classifier_weights(clip, absent)])
            scale = clip.model.logit_scale.exp().detach().float()
            score = (scale * features @ pair.T).softmax(-1)[:, 0]
        else:
            score = (features @ weights.T)[:, 0]
        per_class[name] = auroc(score.numpy(), (truth > 0).astype(int))
    if not per_class:
        raise InputError("no class column holds both positives and negatives: AUROC is undefined", manifest.source)
    metrics = {f"auroc/{c}": v for c, v in per_class.items()}
    metrics["mean_auroc"] = float(np.mean(list(per_class.values())))
    return BenchmarkReport(metrics, per_class=per_class)


def evaluate_retrieval(clip: ClipModel, features: torch.Tensor, manifest: Manifest, column: str) -> BenchmarkReport:
    """Text-to-image (the headline, ``R@K``, ``MRR``) and image-to-text; identical texts count as one query whose
    relevant images are all those it describes."""
    texts = [str(t) for t in manifest.column(column)]
    unique = list(dict.fromkeys(texts))
    relevant = np.zeros((len(unique), len(texts)), dtype=bool)
    relevant[[unique.index(t) for t in texts], np.arange(len(texts))] = True
    sim = (F.normalize(encode_texts(clip, unique), dim=-1) @ features.T).numpy()
    ks = RETRIEVAL_KS  # K beyond the gallery's size is 1.0, as published tables count it
    metrics = {k: v for k, v in retrieval_metrics(sim, relevant, ks=ks).items() if "nDCG" not in k}
    image_to_text = retrieval_metrics(sim.T, relevant.T, ks=ks, prefix="image_to_text_")
    metrics.update({k: v for k, v in image_to_text.items() if "nDCG" not in k})
    return BenchmarkReport(metrics, recall_curve={k: metrics[f"R@{k}"] for k in ks})


def head_for(
    head: AdaptedHead | None, benchmark: Benchmark, pack: PromptPack | None
) -> tuple[AdaptedHead | None, str | None]:
    """The adapted head that scores ``benchmark`` (None: zero-shot) and a note of how it is (not) used (None: the
    model is not adapted). ``pack``: a classification benchmark's classes."""
    if head is None:
        return None, None
    if benchmark.task != CLASSIFICATION or pack is None:
        return None, f"zero-shot: the adapted head ({head.describe()}) scores classification benchmarks only"
    outside = [c for c in pack.class_names if c not in head.classes]
    if outside:
        more = f" and {len(outside) - 10} more" if len(outside) > 10 else ""
        return None, f"zero-shot: benchmark classes outside the adapted classes ({', '.join(outside[:10])}{more})"
    return head, f"adapted: {head.describe()}, restricted to the benchmark's {len(pack.class_names)} classes"


def evaluate_benchmark(clip: ClipModel, domain: Domain, benchmark: Benchmark, manifest: Manifest) -> BenchmarkReport:
    """``benchmark`` on its converted ``manifest``; the report's metrics hold ``benchmark.metric``. An adapted model
    scores a classification benchmark of its classes with its head (see the module doc)."""
    pack = benchmark_pack(benchmark, manifest) if benchmark.task == CLASSIFICATION else None
    head, note = head_for(clip.head, benchmark, pack)
    if benchmark.task in (CLASSIFICATION, MULTILABEL, RETRIEVAL):
        features = encode_manifest(clip, domain, manifest)
        if benchmark.task == CLASSIFICATION:
            report = evaluate_classification(clip, features, manifest, pack, benchmark.label_column, head)
        elif benchmark.task == MULTILABEL:
            report = evaluate_multilabel(clip, features, manifest, benchmark)
        else:
            report = evaluate_retrieval(clip, features, manifest, benchmark.text_column or "caption")
    else:
        evaluators = domain.benchmark_evaluators()
        if benchmark.task not in evaluators:
            raise InputError(f"domain {domain.name!r} cannot evaluate {benchmark.task!r} benchmarks")
        report = evaluators[benchmark.task](clip, benchmark, manifest)
    if benchmark.metric not in report.metrics:
        raise InputError(f"benchmark {benchmark.name!r}: its metric {benchmark.metric!r} was not produced")
    report.scored_by, report.note = (ADAPTED if head is not None else ZERO_SHOT), note
    return report
