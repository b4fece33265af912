"""The ``medical`` domain: 2D radiographs and slices, 3D CT/MR volumes (DICOM series, NIfTI) with reports.

Scans are read through MONAI (:mod:`.reader`), turned into windowed slices (:mod:`.transforms`) and encoded by a 2D
open_clip tower per slice with attention slice pooling (:mod:`.tower`), trained 2D first and then the pooling on
volumes with the 2D tower locked (two training stages, RadCLIP). Zero-shot: nodule side classification with prompt
packs, multi-finding present/absent detection with AUROC and bootstrap CI (:mod:`.findings`), report <-> volume
retrieval (core, and with long reports pooled over sentence chunks: :mod:`.long_text`). The ``attention`` prediction
task returns which slices mattered (:mod:`.attention`); ``"loss": "medclip_soft"`` (the default) selects MedCLIP's
soft targets (:mod:`.soft_loss`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from clipzoo.core.domain import MULTILABEL, Converter, DemoData, DemoQuery, Domain, ZeroShotTask, ranked_labels
from clipzoo.core.errors import InputError
from clipzoo.core.images import CheckpointPixels
from clipzoo.core.model_configs import model_config
from clipzoo.core.notes import note
from clipzoo.core.spec import ModelSpec
from clipzoo.core.stages import Stage

from . import tower as _tower
from .attention import attention_figures, predict_with_attention
from .cache import ScanCache, default_cache_dir
from .demo_data import load_json, write_demo_dataset
from .findings import FindingPrompts, format_findings
from .long_text import report_chunks, report_retrieval
from .reader import SCAN_SUFFIXES, STACK_SEPARATOR, is_nifti, read_scan, stack_keys
from .scope import scope_warnings, training_scope
from .soft_loss import LOSS_NAME, medclip_soft_loss
from .transforms import CheckpointScanTransform, ScanTransform

# A small ViT per slice (open_clip VisionTransformer) and the bundled pretrained all-MiniLM-L6-v2 text tower, locked
# (LiT): the text side already knows "effusion" from "fluid", so held-out prompt wordings land near the reports.
SMALL_VIT_MINILM = model_config("vit-mini-48-minilm")  # core/model_configs/vit-mini-48-minilm.json
SCAN_DEFAULTS = {"max_slices": 10, "sampling": "uniform", "windows": ["lung", "mediastinum", "bone"]}
DISPLAY_NOTE = (
    "radiographs and slices as a viewer displays them, 8-bit: DICOM through the modality LUT and the file's VOI "
    "window (MONOCHROME1 inverted); CT without a window in a soft-tissue window (level 40, width 400 HU), MR and "
    "radiographs without one over their stored range (said in each row's warnings); 8-bit PNGs as they are, 16-bit "
    "PNGs scaled from their stored range"
)
WHEEL_SERIES = ("dicomdirtests", "98892001", "CT5N")
FINDINGS_GROUP = "findings"
# RadCLIP's two stages: the per-slice tower on 2D pairs, then slice pooling on volumes with that trunk locked.
STAGE_2D = Stage(
    "2d",
    "the per-slice 2D tower on image-report pairs (axial slices, radiographs)",
    input="train2d",
    optional=True,
)
STAGE_3D = Stage(
    "3d", "attention slice pooling on volumes with reports (2D trunk locked after stage 2d)", lock_image_after="2d"
)
DEMO_2D = {"epochs": 20, "batch_size": 64, "warmup_steps": 20, "lr": 2e-3, "weight_decay": 0.05}
DEMO_3D = {"epochs": 12, "batch_size": 32, "warmup_steps": 10, "lr": 2e-3, "weight_decay": 0.05}
SMALL_2D = {"epochs": 4, "batch_size": 8, "warmup_steps": 1, "lr": 2e-3}
SMALL_3D = {"epochs": 3, "batch_size": 8, "warmup_steps": 1, "lr": 2e-3}
DEMO_LABELS = ["lung nodule", "pleural effusion", "normal chest"]


def _noted(img: Any) -> Any:
    """The scan, its reading warnings (kept in its metadata, cached with it) noted for its prediction row."""
    for warning in img.meta.get("warnings", ()):
        note(warning)
    return img


def wheel_ct_series() -> Path:
    """The real 5-slice CT series shipped in pydicom's wheel (``pydicom/data/test_files/.../CT5N``)."""
    import pydicom.data

    return Path(pydicom.data.__file__).parent.joinpath("test_files", *WHEEL_SERIES)


class MedicalDomain(Domain):
    """CT/MR volumes and radiographs with radiology reports."""

    name = "medical"
    modality = "radiology-scan"
    runtime_packages = ("numpy", "monai", "pydicom", "nibabel", "matplotlib")
    file_suffixes = SCAN_SUFFIXES
    primary_metric = "findings_mean_auroc"
    intended_use = (
        "Research on zero-shot finding detection and report retrieval for CT volumes and radiographs. "
        "Not a medical device: never use it for diagnosis."
    )
    limitations = (
        "The demo model is trained on synthetic phantoms (three findings) and knows nothing about real anatomy or "
        "pathology; volumes are sampled to a fixed number of axial slices, so findings between them can be missed."
    )

    def __init__(self) -> None:
        self._caches: dict[Path, ScanCache] = {}

    def read(self, path: str | Path) -> Any:
        """The scan at ``path`` (through the persistent cache of :mod:`.cache` unless it is turned off)."""
        folder = default_cache_dir()
        if folder is None:
            return _noted(read_scan(path))
        if folder not in self._caches:
            self._caches[folder] = ScanCache(folder)
        return _noted(self._caches[folder].get(path, read_scan))

    def read_bytes(self, data: bytes, filename: str) -> Any:
        """A served file: a zip of a DICOM series or study, a NIfTI (``.nii.gz`` kept whole), or any single scan."""
        name = Path(filename).name or "input"
        with tempfile.TemporaryDirectory(prefix="clipzoo-medical-") as tmp:
            target = Path(tmp) / ("input.nii.gz" if name.lower().endswith(".nii.gz") else f"input{Path(name).suffix}")
            target.write_bytes(data)
            try:
                return _noted(read_scan(target))
            except InputError as err:  # name the uploaded file, not the temporary copy
                raise InputError(str(err).split(": ", 1)[-1], filename) from err

    def expand_input(self, name: str) -> list[str]:
        """A DICOM folder holding several image stacks is answered stack by stack, each named ``FOLDER#KEY``."""
        return [f"{name}{STACK_SEPARATOR}{key}" for key in stack_keys(name)] or [name]

    def input_size(self, sample: Any) -> tuple[int, int]:
        """The in-plane size of an image or of a volume's slices (``[1, W, H]`` or ``[1, X, Y, Z]``)."""
        return int(sample.shape[1]), int(sample.shape[2])

    def training_scope(self, files: Sequence[str]) -> dict[str, Any]:
        return training_scope(files)

    def scope_warnings(self, sample: Any, scope: dict[str, Any]) -> list[str]:
        return scope_warnings(dict(getattr(sample, "meta", {})), scope)

    def transform(self, spec: ModelSpec, train: bool) -> ScanTransform | CheckpointScanTransform:
        scan = {**SCAN_DEFAULTS, **spec.extra.get("scan", {})}
        if spec.imported and not train:
            return CheckpointScanTransform(
                CheckpointPixels(spec), max_slices=int(scan["max_slices"]), sampling=str(scan["sampling"])
            )
        return ScanTransform(
            image_size=spec.image_size,
            mean=spec.mean,
            std=spec.std,
            channels=spec.input_channels,
            train=train,
            max_slices=int(scan["max_slices"]),
            sampling=str(scan["sampling"]),
            windows=tuple(scan["windows"]),
            target_spacing=scan.get("target_spacing"),
        )

    def collate(self, tensors):
        return _tower.collate_scans(tensors)

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            name="vit-slices-minilm",
            domain=self.name,
            model_cfg=SMALL_VIT_MINILM,
            image_size=48,
            mean=(0.5, 0.5, 0.5),
            std=(0.25, 0.25, 0.25),
            vision_tower=_tower.TOWER_NAME,
            vision_tower_args={"heads": 4, "positions": 64, "chunk_size": 256},
            lock_text=True,
            # Slice captions repeat (most slices show nothing) and many reports share findings: MedCLIP's soft
            # targets keep same-finding pairs from being negatives, in both stages.
            loss=LOSS_NAME,
            extra={"scan": dict(SCAN_DEFAULTS)},
        )

    def zero_shot_tasks(self) -> list[ZeroShotTask]:
        return [
            ZeroShotTask(name="nodule_side", label_column="nodule_side", prompt_pack="nodule_side"),
            *(
                ZeroShotTask(name=f, label_column=f, prompt_pack=f"finding:{f}", kind=MULTILABEL, group=FINDINGS_GROUP)
                for f in self.finding_prompts().findings
            ),
        ]

    def prompt_packs(self) -> dict[str, dict]:
        """The classification packs of ``prompts.json``, then one present/absent pack per finding (``finding:X``)."""
        packs = load_json("prompts.json")
        for finding in self.finding_prompts().findings:
            pack = self.finding_prompts().pack(finding)
            packs[f"finding:{finding}"] = {"templates": list(pack.templates), "classes": pack.classes}
        return packs

    def finding_prompts(self) -> FindingPrompts:
        return FindingPrompts.from_dict(load_json("findings.json"))

    def extra_metrics(self, clip: Any, manifest: Any, features: torch.Tensor) -> dict[str, float]:
        """Volume <-> report retrieval with reports beyond the text context pooled over their sentence chunks (the
        findings' AUROC comes from the multilabel zero-shot tasks)."""
        if "caption" not in manifest.frame.columns:
            return {}
        return report_retrieval(clip, features, manifest.captions())

    def evaluation_figures(self, clip: Any, manifest: Any) -> dict[str, Any]:
        """Slice attention over the first held-out volumes (nodule cases first)."""
        return attention_figures(clip, self, manifest, cases=2)

    def format_metrics(self, metrics: dict[str, float]) -> list[str]:
        return format_findings(metrics)

    def caption_chunks(self, clip: Any, caption: str) -> list[str]:
        """Reports longer than the text context train as their pooled sentence chunks, not truncated."""
        return report_chunks(clip, caption)

    def prediction_tasks(self) -> dict[str, Any]:
        """``attention``: ranked labels plus each volume's slice-attention weights and slice positions."""
        return {"attention": predict_with_attention}

    def stages(self, spec: ModelSpec) -> list[Stage]:
        """Stage 2d when 2D pairs are given (``--input train2d=slices.csv``; the demo data has them), then 3d."""
        return [STAGE_2D, STAGE_3D]

    def demo_train_defaults(self, small: bool = False) -> dict[str, Any]:
        """The 3D stage's settings, and the 2D stage's under ``stages``."""
        if small:
            return {**SMALL_3D, "stages": {STAGE_2D.name: dict(SMALL_2D)}}
        return {**DEMO_3D, "stages": {STAGE_2D.name: dict(DEMO_2D)}}

    def demo_queries(self, demo: DemoData, clip: Any, ref: str, workdir: Path) -> list[DemoQuery]:
        """The real CT5N series with its slice attention, through the ``attention`` task."""
        import shlex

        example = self.demo_example(demo)
        labels = shlex.join(DEMO_LABELS)
        command = f"clipzoo predict {ref} {shlex.quote(str(example))} --task attention --labels {labels}"

        def describe(row: dict[str, Any]) -> list[str]:
            return [*ranked_labels(row), f"  slice attention: {row.get('slice_attention')}"]

        params = {"labels": DEMO_LABELS, "top_k": 3, "task": "attention"}
        return [DemoQuery({"path": [str(example)]}, params, command, describe)]

    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        sizes = (
            {"n_train": 16, "n_heldout": 12, "size": 32, "slices": 8}
            if small
            else {"n_train": 320, "n_heldout": 120, "size": 48, "slices": 10}
        )
        paths = write_demo_dataset(root, seed=seed, **sizes)
        return DemoData(train=paths["train"], heldout=paths["heldout"], extra={"train2d": paths["train2d"]})

    def demo_example(self, demo: DemoData) -> Path:
        """A real CT series from the pydicom wheel (falls back to a held-out demo case if pydicom lacks it)."""
        series = wheel_ct_series()
        return series if series.is_dir() else super().demo_example(demo)

    def converters(self) -> dict[str, Converter]:
        """The published layouts of training data (``convert``), then those of the field's benchmarks."""
        from .benchmark_layouts import BENCHMARK_CONVERTERS
        from .convert import CONVERTERS

        return {**CONVERTERS, **{c.name: c for c in BENCHMARK_CONVERTERS}}

    def vision_towers(self) -> dict[str, Any]:
        return {_tower.TOWER_NAME: _tower.slice_attention_tower, _tower.MEAN_TOWER_NAME: _tower.slice_mean_tower}

    def import_spec(self, spec: ModelSpec) -> ModelSpec:
        """A published 2D checkpoint reads radiographs and slices as a viewer displays them, through its own
        preprocessing, and volumes through mean slice pooling."""
        return _tower.mean_pooling_spec(spec, SCAN_DEFAULTS).with_input_notes(DISPLAY_NOTE)

    def losses(self) -> dict[str, Any]:
        return {LOSS_NAME: medclip_soft_loss}  # "loss": "medclip_soft" in a model spec


__all__ = ["MedicalDomain", "is_nifti", "read_scan"]
