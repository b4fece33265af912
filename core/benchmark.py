"""Standard benchmarks as data: the field's published evaluation sets, each with the converter that reads its
published layout, its classes and prompt templates as published, its headline metric and the published numbers of
the models it is usually reported for (anchors, with their source).

A domain lists its benchmarks in ``benchmarks.json`` beside its package (``Domain.benchmarks()`` reads it); ``clipzoo
eval MODEL --benchmark NAME --data DIR`` converts the folder with ``layout`` (``clipzoo convert DOMAIN LAYOUT``) and
evaluates the benchmark's ``task``:

- ``classification``: zero-shot top-1 over ``classes`` on ``label_column`` (accuracy, balanced accuracy, per class);
  without ``classes`` (a benchmark whose classes are its split's, such as a sign vocabulary), the column's values;
- ``multilabel``: one 0/1 column per class; each class scored by the softmax over its present/absent prompt pair
  (``negatives``) or, without one, by its cosine; AUROC per class and their mean (``mean_auroc``);
- ``retrieval``: text-to-image over ``text_column``: ``R@1``, ``R@5``, ``R@10``, ``MRR``;
- ``composed`` and ``slide``: the domain's own evaluators (``Domain.benchmark_evaluators``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import check_keys, read_named_entries

CLASSIFICATION, MULTILABEL, RETRIEVAL = "classification", "multilabel", "retrieval"
COMPOSED, SLIDE = "composed", "slide"
TASKS = (CLASSIFICATION, MULTILABEL, RETRIEVAL, COMPOSED, SLIDE)


@dataclass(frozen=True)
class Anchor:
    """A published number on a benchmark: which model, the value (in the benchmark's metric) and where it is
    reported (paper, table)."""

    model: str
    value: float
    source: str


@dataclass(frozen=True)
class Benchmark:
    """One standard benchmark of a domain (see the module doc)."""

    name: str
    domain: str
    title: str
    task: str
    layout: str  # the domain's converter (``Domain.converters()``) that reads the published folder
    metric: str  # the headline metric: a key of the evaluation's metrics (``top1``, ``mean_auroc``, ``R@10``...)
    source: str  # where the dataset and its protocol are published
    options: dict[str, Any] = field(default_factory=dict)  # the converter's options
    label_column: str | None = None
    text_column: str | None = None
    classes: dict[str, list[str]] = field(default_factory=dict)  # class -> its synonyms, as published
    negatives: dict[str, list[str]] = field(default_factory=dict)  # multilabel: class -> its "absent" wordings
    templates: tuple[str, ...] = ("{}",)
    prompts_source: str | None = None  # where the classes and templates are published
    anchors: tuple[Anchor, ...] = ()
    notes: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"benchmark {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        if self.task in (CLASSIFICATION, SLIDE) and not self.label_column:
            raise InputError(f"benchmark {self.name!r}: a {self.task} benchmark names its label column")
        if self.task == MULTILABEL and not self.classes:
            raise InputError(f"benchmark {self.name!r}: a multilabel benchmark names its classes (one column each)")
        if self.classes and any("{}" not in t for t in self.templates):
            raise InputError(f"benchmark {self.name!r}: every template needs one '{{}}' placeholder")

    def prompt_pack(self) -> dict[str, Any]:
        """The classes and templates as a prompt pack (``clipzoo.core.zeroshot.PromptPack.from_dict``)."""
        return {"templates": list(self.templates), "classes": self.classes}

    @classmethod
    def from_dict(cls, data: dict[str, Any], domain: str) -> Benchmark:
        check_keys(cls, data, "benchmark")
        data = {**data, "domain": domain}
        data["templates"] = tuple(data.get("templates", ("{}",)))
        data["anchors"] = tuple(Anchor(**a) for a in data.get("anchors", ()))
        return cls(**data)


def load_benchmarks(path: str | Path, domain: str) -> list[Benchmark]:
    """The benchmarks of one domain's ``benchmarks.json`` (a list of objects), in file order."""
    return [Benchmark.from_dict(row, domain) for row in read_named_entries(path, "benchmark")]
