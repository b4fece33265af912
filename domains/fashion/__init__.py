"""The ``fashion`` domain: product images with titles and attributes, attribute zero-shot, text-to-product search,
composed retrieval with CLIP4Cir's Combiner, and a faiss product index.

Modules: ``images`` (reader, targetpad), ``garments`` + ``demo_data`` (synthetic catalogue), ``captions``,
``combiner`` (the Combiner and the ``fashion`` tower), ``triplets``, ``composed`` (stage 2 + composed metrics),
``evaluation``, ``index`` (faiss), ``catalogue`` (a product index on disk, stamped with its model), ``search`` (the
``search`` task of ``clipzoo predict`` and the server), ``stages`` (the Combiner stage after the contrastive one),
``demo_queries`` (the demo's catalogue searches), ``convert`` (users' manifests, FashionIQ).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clipzoo.core.domain import Converter, DemoData, DemoQuery, Domain, ZeroShotTask
from clipzoo.core.images import CheckpointPixels
from clipzoo.core.model_configs import model_config
from clipzoo.core.spec import ModelSpec
from clipzoo.core.stages import CONTRASTIVE, Stage

from . import combiner as _combiner
from .demo_data import load_prompt_packs, write_demo_dataset
from .images import PRODUCT_SUFFIXES, product_transform, read_product_image
from .stages import COMBINER

METRIC_ORDER = ("_top1", "text_to_product_", "composed_", "text_to_image_", "image_to_text_")

TINY_VIT_MINILM = model_config("vit-tiny-64-minilm")  # core/model_configs/vit-tiny-64-minilm.json


class FashionDomain(Domain):
    """Product shots through an open_clip ViT, plus a Combiner head for composed queries."""

    name = "fashion"
    modality = "product-image"
    runtime_packages = ("numpy", "faiss-cpu")
    file_suffixes = PRODUCT_SUFFIXES
    primary_metric = "text_to_product_MRR"
    intended_use = (
        "Research on zero-shot product attribute classification, text-to-product search and composed image "
        "retrieval (reference product + modification text) over a product catalogue."
    )
    limitations = (
        "The demo model is trained from scratch on synthetic garment drawings; it knows six categories, eight "
        "colours and four patterns and nothing about real photographs. Fine-tune on your own catalogue."
    )

    def read(self, path: str | Path) -> Any:
        return read_product_image(path)

    def transform(self, spec: ModelSpec, train: bool) -> Any:
        if spec.imported and not train:
            return CheckpointPixels(spec)
        ratio = float(spec.extra.get("target_ratio", 1.0))
        return product_transform(
            spec.image_size, spec.mean, spec.std, train=train, target_ratio=ratio, interpolation=spec.interpolation
        )

    def import_spec(self, spec: ModelSpec) -> ModelSpec:
        """A published checkpoint reads product images through its own preprocessing (no target padding)."""
        return spec.with_input_notes(
            "product images as 8-bit RGB, transparent cut-outs composited on white (16-bit greys scaled from their "
            "stored range), then the checkpoint's own resize and crop (not the domain's target padding)"
        )

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            name="vit-tiny-minilm-combiner",
            domain=self.name,
            model_cfg=TINY_VIT_MINILM,
            image_size=64,
            vision_tower=_combiner.TOWER_NAME,
            lock_text=True,
            extra={"target_ratio": 1.0},
        )

    def zero_shot_tasks(self) -> list[ZeroShotTask]:
        return [ZeroShotTask(name=n, label_column=n, prompt_pack=n) for n in ("category", "colour", "pattern")]

    def prompt_packs(self) -> dict[str, dict]:
        return load_prompt_packs()

    def label_templates(self) -> tuple[str, ...]:
        return ("a product photo of a {}.", "a catalogue photo of a {}.", "an e-commerce image of a {}.")

    def extra_metrics(self, clip: Any, manifest: Any, features: Any) -> dict[str, float]:
        from .evaluation import fashion_metrics

        return fashion_metrics(clip, manifest, features)

    def demo_train_defaults(self, small: bool = False) -> dict[str, Any]:
        if small:
            return {"epochs": 4, "batch_size": 16, "warmup_steps": 2, "lr": 2e-3, "stages": {"combiner": {"epochs": 5}}}
        return {"epochs": 8, "batch_size": 100, "warmup_steps": 20, "lr": 1e-3, "weight_decay": 0.05}

    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        sizes = {"n_train": 60, "n_heldout": 30} if small else {"n_train": 2400, "n_heldout": 600}
        paths = write_demo_dataset(root, seed=seed, **sizes)
        extra = {k: v for k, v in paths.items() if k not in ("train", "heldout")}
        return DemoData(train=paths["train"], heldout=paths["heldout"], extra=extra)

    def benchmark_evaluators(self) -> dict[str, Any]:
        from clipzoo.core.benchmark import COMPOSED

        from .benchmark_eval import composed_benchmark

        return {COMPOSED: composed_benchmark}

    def prediction_tasks(self) -> dict[str, Any]:
        from .search import TASK, search_task

        return {TASK: search_task}

    def stages(self, spec: ModelSpec) -> list[Stage]:
        """Contrastive training on product captions, then the Combiner on triplets (``<stem>.triplets.csv`` beside
        the training manifest, or ``--input train_triplets=PATH``)."""
        return [CONTRASTIVE, COMBINER]

    def format_metrics(self, metrics: dict[str, float]) -> list[str]:
        def order(key: str) -> tuple[int, str]:
            return next((i for i, group in enumerate(METRIC_ORDER) if group in key), len(METRIC_ORDER)), key

        return [f"  {key:36s} {metrics[key]:.4f}" for key in sorted(metrics, key=order)]

    def demo_queries(self, demo: DemoData, clip: Any, ref: str, workdir: Path) -> list[DemoQuery]:
        from .demo_queries import search_queries

        return search_queries(demo, clip, ref, workdir)

    def converters(self) -> dict[str, Converter]:
        """The published layouts of training data (``convert``), then those of the field's benchmarks."""
        from .benchmark_layouts import BENCHMARK_CONVERTERS
        from .convert import CONVERTERS

        return {**CONVERTERS, **{c.name: c for c in BENCHMARK_CONVERTERS}}

    def vision_towers(self) -> dict[str, Any]:
        return {_combiner.TOWER_NAME: _combiner.attach_combiner}

    def build_catalogue(self, clip: Any, manifest: Any, folder: Path, model_ref: str, options: dict[str, Any]) -> str:
        from .catalogue import build_catalogue

        return build_catalogue(clip, manifest, folder, model_ref, options)
