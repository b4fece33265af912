"""The ``sign_language`` domain: SignCLIP-style pose-sequence CLIP over ``.pose`` files.

Input is a pose sequence, not an image: ``read`` gives a normalised ``PoseSequence`` (``reader``), ``transform`` a
[T, 609] tensor (``transforms``), ``collate`` ``{"poses": [B, T, 609], "mask": [B, T]}``, and the registered vision
tower ``pose_transformer`` (``tower``) replaces ``model.visual``. Text is the spine's locked MiniLM tower with
SignCLIP's language-tag prompts (``<en> <ase> house``). Held-out metrics add gloss-level pose<->text retrieval and
few-shot kNN sign recognition (``tasks``).

Video -> pose extraction with MediaPipe Holistic is a separate extra, ``scripts/video_to_pose.py``: the offline
Holistic solution needs ``mediapipe==0.10.21`` (numpy<2, protobuf<5), which conflicts with the core pins (numpy 2,
protobuf 7), so it runs in its own venv (``scripts/requirements-mediapipe.txt``) and writes Holistic ``.pose`` files
this reader takes. See README.md beside this file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from clipzoo.core.domain import Converter, DemoData, Domain, ZeroShotTask
from clipzoo.core.errors import InputError
from clipzoo.core.evaluate import evaluate_classification
from clipzoo.core.model_configs import model_config
from clipzoo.core.spec import ModelSpec

from . import tower
from .convert import gloss_text
from .demo_data import load_prompt_packs, write_demo_dataset
from .reader import ARRAY_SUFFIXES, POSE_SUFFIXES, PoseSequence, read_pose_bytes, read_sequence
from .tasks import few_shot_accuracy, gloss_retrieval, sign_prompt_pack
from .transforms import PoseTransform, PoseTransformConfig, collate_poses

POSE_MINILM = model_config("pose-minilm")  # core/model_configs/pose-minilm.json


REAL_POSE_ENV = "CLIPZOO_SIGN_DEMO_POSE"  # a real .pose file for the demo's last step (else a held-out clip)


class SignLanguageDomain(Domain):
    """Pose sequences (MediaPipe Holistic / OpenPose in ``.pose`` files, or declared arrays) paired with text."""

    name = "sign_language"
    modality = "pose-sequence"
    runtime_packages = ("numpy", "pose-format", "faiss-cpu")
    file_suffixes = POSE_SUFFIXES + ARRAY_SUFFIXES
    primary_metric = "pose_to_text_R@1"
    intended_use = (
        "Research on sign-language retrieval and isolated sign recognition from pose keypoints (SignCLIP-style)."
    )
    limitations = (
        "The demo model is trained on synthetic signs made by a kinematic signer, not on real signing; it does not "
        "understand any sign language. Sequences longer than max_frames (256) keep only their central frames."
    )

    def read(self, path: str | Path) -> PoseSequence:
        return read_sequence(path)

    def read_bytes(self, data: bytes, filename: str) -> PoseSequence:
        if Path(filename).suffix.lower() in POSE_SUFFIXES:
            return read_pose_bytes(data, filename)
        return super().read_bytes(data, filename)

    def transform(self, spec: ModelSpec, train: bool) -> PoseTransform:
        try:
            cfg = PoseTransformConfig.from_extra(spec.extra)
        except (TypeError, KeyError) as err:
            raise InputError(f"bad pose preprocessing settings in spec.extra: {err}") from err
        return PoseTransform(cfg, train=train)

    def collate(self, tensors: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        return collate_poses(tensors)

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            name="pose-transformer-minilm",
            domain=self.name,
            model_cfg=POSE_MINILM,
            image_size=16,
            vision_tower=tower.TOWER_NAME,
            vision_tower_args={"width": 128, "layers": 2, "heads": 4, "dropout": 0.1},
            lock_text=True,
            extra={"layout": "signclip203", "max_frames": 256, "fps": 12.5},
        )

    def zero_shot_tasks(self) -> list[ZeroShotTask]:
        """None through core: its tasks need a fixed prompt pack, while a held-out set's glosses are its own;
        zero-shot sign recognition runs in ``extra_metrics`` with a pack built from the held-out glosses."""
        return []

    def prompt_packs(self) -> dict[str, dict]:
        return load_prompt_packs()

    def extra_metrics(self, clip: Any, manifest: Any, features: torch.Tensor) -> dict[str, float]:
        frame = manifest.frame
        if "gloss" not in frame.columns or "caption" not in frame.columns:
            return {}
        glosses = [str(g) for g in frame["gloss"]]
        captions = [str(c) for c in frame["caption"]]
        texts = [str(t) for t in frame["text"]] if "text" in frame.columns else [gloss_text(g) for g in glosses]
        pack = sign_prompt_pack(glosses, texts, self.prompt_packs()["sign"])
        out = evaluate_classification(clip, features, glosses, pack, "sign").metrics
        out.update(gloss_retrieval(clip, features, captions, glosses))
        out.update(few_shot_accuracy(features, glosses))
        return out

    def demo_train_defaults(self, small: bool = False) -> dict[str, Any]:
        if small:
            return {"epochs": 2, "batch_size": 16, "warmup_steps": 2, "lr": 1e-3}
        return {"epochs": 15, "batch_size": 32, "warmup_steps": 15, "lr": 1e-3, "weight_decay": 0.05}

    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        paths = write_demo_dataset(root, small=small, seed=seed)
        return DemoData(train=paths["train"], heldout=paths["heldout"])

    def demo_example(self, demo: DemoData) -> Path:
        """A real pose file named by ``$CLIPZOO_SIGN_DEMO_POSE`` (a MediaPipe Holistic recording), else the first
        held-out clip."""
        real = os.environ.get(REAL_POSE_ENV)
        return Path(real) if real and Path(real).is_file() else super().demo_example(demo)

    def converters(self) -> dict[str, Converter]:
        """The published layouts of training data (``convert``), then those of the field's benchmarks."""
        from .benchmark_layouts import BENCHMARK_CONVERTERS
        from .convert import CONVERTERS

        return {**CONVERTERS, **{c.name: c for c in BENCHMARK_CONVERTERS}}

    def vision_towers(self) -> dict[str, Any]:
        return {tower.TOWER_NAME: tower.pose_transformer_tower}
