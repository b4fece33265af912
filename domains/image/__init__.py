"""The generic ``image`` domain: RGB photos with captions, the domain a user with their own pictures starts from."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from clipzoo.core.domain import DemoData, Domain, ZeroShotTask
from clipzoo.core.files import open_image
from clipzoo.core.images import CheckpointPixels, picture8, spec_image_transform
from clipzoo.core.model_configs import model_config
from clipzoo.core.spec import ModelSpec
from PIL import Image, ImageOps

from .demo_data import load_prompt_packs, write_demo_dataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")

# A small ModifiedResNet (open_clip's CLIP ResNet: attention-pooled, anti-aliased stem) learns shapes from a few
# thousand images on a CPU much faster than a ViT of the same cost; the pretrained all-MiniLM-L6-v2 text tower is
# locked (LiT) so the prompts' unseen wordings still land near the right captions. Width 16 at 48 px costs a seventh
# of width 32 at 64 px per image: in the demo's CPU budget it trains three times the steps, which is what shape
# needs (colour is learnt in a few); a coarser or narrower tower confuses triangles with stars.
SMALL_RESNET_MINILM = model_config("rn-small-48-minilm")  # core/model_configs/rn-small-48-minilm.json


class DihedralTransform:
    """Training transform for pictures without an up or a left (the demo's shapes, cells, aerial tiles): the eval
    geometry (shorter side to ``size``, centre crop), then one of the 8 flips and quarter turns, which keep every
    pixel and the subject whole, unlike a random resized crop that can cut a shape off or stretch a square. Chosen
    with ``"train_augment": "dihedral"`` in a spec's ``extra``."""

    def __init__(self, size: int, mean: tuple[float, ...], std: tuple[float, ...]):
        self.size = size
        self.scale = torch.tensor([1 / (255 * s) for s in std]).view(3, 1, 1)
        self.shift = torch.tensor([m / s for m, s in zip(mean, std, strict=True)]).view(3, 1, 1)

    def __call__(self, img: Image.Image) -> torch.Tensor:
        img = img.convert("RGB")
        if img.size != (self.size, self.size):
            img = ImageOps.fit(img, (self.size, self.size), Image.Resampling.BICUBIC)
        pixels = np.asarray(img)
        turn = random.randrange(8)  # seeded per sample by the trainer
        if turn & 4:
            pixels = pixels.transpose(1, 0, 2)
        pixels = np.rot90(pixels, turn & 3).copy()  # contiguous and writable
        return torch.from_numpy(pixels).permute(2, 0, 1).float() * self.scale - self.shift


def read_image(path: str | Path) -> Image.Image:
    """Decode an image file to an 8-bit picture in its own mode (the transforms make it RGB, open_clip's after its
    resize and crop), or raise ``InputError`` naming the file and what is wrong with it."""
    return picture8(open_image(path))


class ImageDomain(Domain):
    """RGB image-text pairs through an open_clip vision tower."""

    name = "image"
    modality = "rgb-image"
    file_suffixes = IMAGE_SUFFIXES
    primary_metric = "shape_top1"

    def read(self, path: str | Path) -> Image.Image:
        return read_image(path)

    def transform(self, spec: ModelSpec, train: bool) -> Any:
        if train and spec.extra.get("train_augment") == "dihedral":
            return DihedralTransform(spec.image_size, spec.mean, spec.std)
        if spec.imported and not train:
            return CheckpointPixels(spec)
        return spec_image_transform(spec, train)

    def import_spec(self, spec: ModelSpec) -> ModelSpec:
        return spec.with_input_notes(
            "pictures decoded by Pillow as they are (greys, alpha and palettes handled by the checkpoint's own "
            "preprocessing), 16-bit greys scaled from their stored range to 8 bits (Pillow alone clips them at 255)"
        )

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            name="rn-small-minilm",
            domain=self.name,
            model_cfg=SMALL_RESNET_MINILM,
            image_size=SMALL_RESNET_MINILM["vision_cfg"]["image_size"],
            lock_text=True,
            extra={"train_augment": "dihedral"},
        )

    def zero_shot_tasks(self) -> list[ZeroShotTask]:
        return [
            ZeroShotTask(name="shape", label_column="shape", prompt_pack="shape"),
            ZeroShotTask(name="colour", label_column="colour", prompt_pack="colour"),
        ]

    def prompt_packs(self) -> dict[str, dict]:
        return load_prompt_packs()

    def label_templates(self) -> tuple[str, ...]:
        return ("a photo of a {}.", "an image of a {}.", "a picture showing a {}.")

    def demo_train_defaults(self, small: bool = False) -> dict[str, Any]:
        if small:
            return {"epochs": 3, "batch_size": 32, "warmup_steps": 3, "lr": 3e-3}
        # 540 steps of the 48 px width-16 tower cost about what 180 of the 64 px width-32 one did; lr 2e-3 (3e-3
        # learns shape as fast but lets colour slip under 0.97).
        return {"epochs": 18, "batch_size": 100, "warmup_steps": 30, "lr": 2e-3, "weight_decay": 0.05}

    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        sizes = {"n_train": 288, "n_heldout": 48} if small else {"n_train": 3000, "n_heldout": 600}
        paths = write_demo_dataset(root, seed=seed, **sizes)
        return DemoData(train=paths["train"], heldout=paths["heldout"])
