"""The domain contract: what a vertical provides, and discovery through the ``clipzoo.domains`` entry points.

Core never imports a domain: it looks one up by name. A domain says what one input is (``modality``), how to read a
file into a tensor (the same function serves training, the CLI and the server), how to batch such tensors, which
transforms to apply, which model it trains by default, which zero-shot tasks it evaluates, and how to write a small
demo dataset in its real file formats.
"""

from __future__ import annotations

import functools
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .benchmark import Benchmark, load_benchmarks
from .spec import ModelSpec
from .stages import CONTRASTIVE, Stage
from .zoo import ZooEntry, load_zoo

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ENTRY_POINT_GROUP = "clipzoo.domains"

Transform = Callable[[Any], torch.Tensor]


CLASSIFICATION, MULTILABEL = "classification", "multilabel"


@dataclass(frozen=True)
class ZeroShotTask:
    """A zero-shot evaluation a domain declares, on one label column of a held-out manifest.

    ``classification``: the column holds class names of ``prompt_pack``; top-1, top-5, balanced accuracy and a
    confusion matrix. ``multilabel``: the column holds 0/1 and ``prompt_pack`` has two classes, the finding present
    first and absent second (CT-CLIP's prompt pairs); the softmax over the pair is scored by AUROC with a bootstrap
    CI, and the tasks of one ``group`` are averaged into ``{group}_mean_auroc``. A multilabel column missing from the
    manifest, or holding one class only, is skipped (AUROC is undefined there).
    """

    name: str
    label_column: str
    prompt_pack: str
    kind: str = CLASSIFICATION
    group: str = "multilabel"

    def __post_init__(self) -> None:
        if self.kind not in (CLASSIFICATION, MULTILABEL):
            raise ValueError(f"zero-shot task {self.name!r}: kind must be {CLASSIFICATION!r} or {MULTILABEL!r}")


@dataclass(frozen=True)
class Converter:
    """A public dataset layout a domain turns into a manifest: ``run(source, out, **options)`` returns what it wrote
    (printed as the command's answer); its docstring says what the layout is and which options it takes."""

    name: str
    run: Callable[..., Any]
    description: str


@dataclass
class DemoQuery:
    """One prediction the demo shows through the registered model's predict path: the payload's columns and params,
    the equivalent command line, and how to describe the answer row."""

    inputs: dict[str, list[Any]]
    params: dict[str, Any]
    command: str
    describe: Callable[[dict[str, Any]], list[str]]
    header: str = ""


@dataclass
class DemoData:
    """Where a demo-data generator wrote its manifests."""

    train: Path
    heldout: Path
    extra: dict[str, Path] = field(default_factory=dict)


class Domain(ABC):
    """One vertical of the zoo. Subclasses are registered under the ``clipzoo.domains`` entry-point group."""

    name: str
    modality: str
    file_suffixes: tuple[str, ...] = ()  # the input files the domain reads (listed by ``clipzoo domains``)
    runtime_packages: tuple[str, ...] = ()  # distributions a served model of this domain needs beyond the core's
    primary_metric: str = "text_to_image_R@1"  # higher is better; decides whether a new version becomes champion
    intended_use: str = "Research on zero-shot classification and retrieval in this domain."
    limitations: str = "Trained only on the data named in this card; validate on your own data before relying on it."

    @abstractmethod
    def read(self, path: str | Path) -> Any:
        """Read one input file into the domain's raw sample (an array, a PIL image, a pose sequence...).

        Raises ``InputError`` naming the file when it is missing, empty, corrupt or of the wrong kind.
        """

    def read_bytes(self, data: bytes, filename: str) -> Any:
        """Read an input sent as bytes (a served request). The default writes a temporary file and calls ``read``."""
        import tempfile

        suffix = Path(filename).suffix
        with tempfile.TemporaryDirectory(prefix="clipzoo-") as tmp:
            path = Path(tmp) / f"input{suffix}"
            path.write_bytes(data)
            sample = self.read(path)
        return sample

    def input_size(self, sample: Any) -> tuple[int, int] | None:
        """The (width, height) in pixels of a raw sample, checked at prediction against the model's input size
        (``core.sizes``); None when the domain's inputs are not pictures (pose sequences). The default reads a PIL
        image's ``size``; domains whose samples are arrays say which axes are the picture's."""
        if hasattr(sample, "size") and isinstance(sample.size, tuple) and len(sample.size) == 2:
            return int(sample.size[0]), int(sample.size[1])
        return None

    def training_scope(self, files: Sequence[str]) -> dict[str, Any]:
        """What the training inputs were, from their metadata (medical: DICOM Modality and BodyPartExamined), to be
        recorded in the spec and the card; ``{}`` when the domain records nothing."""
        return {}

    def scope_warnings(self, sample: Any, scope: dict[str, Any]) -> list[str]:
        """Plain-words warnings for an input outside the recorded training ``scope`` (none by default)."""
        return []

    def expand_input(self, name: str) -> list[str]:
        """The inputs one named input stands for at prediction time (a study folder holding several image stacks,
        say, answered one by one); by default itself."""
        return [name]

    @abstractmethod
    def transform(self, spec: ModelSpec, train: bool) -> Transform:
        """The transform from a raw sample to the model's input tensor, for training (augmenting) or evaluation."""

    def collate(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        """Batch input tensors. Domains with ragged inputs (volumes, pose sequences) override this."""
        return torch.stack(list(tensors))

    @abstractmethod
    def default_spec(self) -> ModelSpec:
        """The model this domain trains when the user names none."""

    def zero_shot_tasks(self) -> list[ZeroShotTask]:
        """Zero-shot tasks evaluated after training; classification tasks use ``prompt_packs()``."""
        return []

    def extra_metrics(self, clip: Any, manifest: Any, features: torch.Tensor) -> dict[str, float]:
        """Domain-specific held-out metrics (multi-finding AUROC, slide-level top-K, composed retrieval, few-shot
        kNN...) given the model, the held-out manifest and its L2-normalised embeddings in row order."""
        return {}

    def caption_chunks(self, clip: Any, caption: str) -> list[str]:
        """Pieces of a caption too long for the text tower's context (a radiology report's sentences, say): the
        trainer encodes each piece and averages their embeddings per caption (as MAKE pools sub-captions).
        The default keeps every caption whole."""
        return [caption]

    def trainer_class(self) -> type | None:
        """The trainer of contrastive stages: None for core's ``Trainer``, or a subclass adding a domain's own loss
        terms (the GeoCLOSP location term, say) with the same constructor."""
        return None

    def stages(self, spec: ModelSpec) -> list[Stage]:
        """The training recipe, in order. The default is one contrastive stage on the training data."""
        return [CONTRASTIVE]

    def vision_towers(self) -> dict[str, Any]:
        """Vision towers beyond open_clip's that specs of this domain name (``spec.vision_tower``), by name: each
        ``fn(model, spec)`` replaces or wraps ``model.visual`` in place."""
        return {}

    def losses(self) -> dict[str, Any]:
        """Contrastive losses beyond ``clip``/``siglip`` that specs of this domain name (``spec.loss``), by name:
        each a factory ``(rank=, world_size=, local_loss=, gather_with_grad=) -> nn.Module``."""
        return {}

    def import_spec(self, spec: ModelSpec) -> ModelSpec:
        """The spec of a 2D RGB checkpoint imported into this domain (``clipzoo import``): a domain whose inputs are
        not RGB images records here how it feeds them to the model (a vision tower wrapping the imported one, an
        input rendering), with one sentence per choice in ``extra["input_notes"]`` for the model card. By default
        the spec as imported."""
        return spec

    def converters(self) -> dict[str, Converter]:
        """Public dataset layouts this domain converts into manifests (``clipzoo convert DOMAIN LAYOUT SRC OUT``)."""
        return {}

    def zoo(self) -> list[ZooEntry]:
        """The published checkpoints of this domain (``clipzoo zoo list``, ``clipzoo import NAME``), as data: by
        default the ``zoo.json`` beside the domain's package, if there is one."""
        path = self._package_file("zoo.json")
        return load_zoo(path, self.name) if path is not None else []

    def benchmarks(self) -> list[Benchmark]:
        """The field's standard benchmarks for this domain (``clipzoo eval --benchmark``, ``clipzoo leaderboard``), as
        data: by default the ``benchmarks.json`` beside the domain's package, if there is one."""
        path = self._package_file("benchmarks.json")
        return load_benchmarks(path, self.name) if path is not None else []

    def benchmark_evaluators(self) -> dict[str, Any]:
        """Evaluators of benchmark tasks core does not know (``composed``, ``slide``), by task: each
        ``fn(clip, benchmark, manifest) -> dict[str, float]`` of metrics, the benchmark's ``metric`` among them."""
        return {}

    def _package_file(self, name: str) -> Path | None:
        module = sys.modules.get(type(self).__module__)
        path = Path(module.__file__).with_name(name) if module and module.__file__ else None
        return path if path is not None and path.is_file() else None

    def feature_tasks(self) -> dict[str, Any]:
        """Inputs this domain stores features of, one file each (``clipzoo embed --task NAME``), by name: each
        ``fn(clip, path, out_dir, options, model) -> (file, written)`` (whole slides as HDF5 tile features, say)."""
        return {}

    def build_catalogue(self, clip: Any, manifest: Any, folder: Path, model_ref: str, options: dict[str, Any]) -> str:
        """Embed a manifest's items with ``clip`` into a searchable catalogue folder stamped with ``model_ref``
        (``clipzoo catalogue build``); returns a one-line summary. Domains without a search task have none."""
        from .errors import InputError

        raise InputError(f"domain {self.name!r} has no catalogue to build (no search task)")

    def evaluation_figures(self, clip: Any, manifest: Any) -> dict[str, Figure]:
        """Figures of a held-out evaluation beyond the confusion matrices (slice attention, say), by file stem."""
        return {}

    def format_metrics(self, metrics: dict[str, float]) -> list[str]:
        """Held-out metrics as lines for a terminal."""
        return [f"  {key:36s} {metrics[key]:.4f}" for key in sorted(metrics)]

    def demo_queries(self, demo: DemoData, clip: Any, ref: str, workdir: Path) -> list[DemoQuery]:
        """What the demo predicts with the registered model ``ref`` at its end: by default, the first prompt pack's
        classes on ``demo_example``. ``clip`` is the trained model in memory, ``workdir`` a folder for files the
        queries need (a catalogue, heatmaps)."""
        import shlex

        example = self.demo_example(demo)
        labels = self.example_labels()
        command = f"clipzoo predict {ref} {shlex.quote(str(example))} --labels {shlex.join(labels)}"
        return [DemoQuery({"path": [str(example)]}, {"labels": labels, "top_k": 3}, command, ranked_labels)]

    def example_labels(self) -> list[str]:
        """Labels to try the model with: the first prompt pack's classes."""
        packs = self.prompt_packs()
        return list(next(iter(packs.values()))["classes"]) if packs else ["something", "something else"]

    def prediction_tasks(self) -> dict[str, Any]:
        """Tasks beyond ``classify`` and ``embed`` that ``clipzoo predict`` and the server answer for this domain, by
        name: each a ``clipzoo.core.predict.PredictionTask`` (a catalogue search, a whole-slide classification...)."""
        return {}

    def label_templates(self) -> tuple[str, ...]:
        """Templates for labels given at prediction time: the first prompt pack's, else the label alone."""
        packs = self.prompt_packs()
        return tuple(next(iter(packs.values()))["templates"]) if packs else ("{}",)

    def prompt_packs(self) -> dict[str, dict]:
        """Prompt packs by name, in the JSON format of ``clipzoo.core.zeroshot.PromptPack.from_dict``."""
        return {}

    @abstractmethod
    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        """Write a small captioned dataset in the domain's real file formats, with the real libraries."""

    def demo_train_defaults(self, small: bool = False) -> dict[str, Any]:
        """Training settings (``TrainConfig`` fields, per-stage ones under ``"stages"``) that fit the demo data on a
        CPU in minutes."""
        return {"epochs": 1, "batch_size": 16, "warmup_steps": 2} if small else {"epochs": 5, "batch_size": 64}

    def demo_example(self, demo: DemoData) -> Path:
        """A file to predict on at the end of the demo."""
        import pandas as pd

        row = pd.read_csv(demo.heldout).iloc[0]
        return demo.heldout.parent / row["path"]


def ranked_labels(row: dict[str, Any]) -> list[str]:
    """A prediction row as ``  -> label (score), ...``."""
    return ["  -> " + ", ".join(f"{lb} ({s:.3f})" for lb, s in zip(row["labels"], row["scores"], strict=True))]


def available_domains() -> list[str]:
    """Names of every installed domain."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


@functools.cache
def get_domain(name: str) -> Domain:
    """Instantiate the domain registered under ``name``."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        from .errors import InputError

        raise InputError(f"unknown domain {name!r}; installed domains: {', '.join(available_domains()) or 'none'}")
    try:
        cls = found[0].load()
    except (ImportError, AttributeError) as err:
        from .errors import ClipzooError

        raise ClipzooError(f"domain {name!r} is installed but cannot be imported: {err}") from err
    return cls()
