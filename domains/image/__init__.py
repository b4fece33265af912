"""The generic ``image`` domain: RGB photos with captions, the domain a user with their own pictures starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clipzoo.core.domain import DemoData, Domain, ZeroShotTask
from clipzoo.core.files import open_image
from clipzoo.core.spec import ModelSpec
from clipzoo.core.text import minilm_text_cfg
from open_clip.transform import image_transform
from PIL import Image

from .demo_data import load_prompt_packs, write_demo_dataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")

# A small ModifiedResNet (open_clip's CLIP ResNet: attention-pooled, anti-aliased stem) learns shapes from a few
# thousand 64 px images on a CPU much faster than a ViT of the same cost; the pretrained all-MiniLM-L6-v2 text tower
# is locked (LiT) so the prompts' unseen wordings still land near the right captions.
SMALL_RESNET_MINILM = {
    "embed_dim": 256,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 32, "head_width": 32},
    "text_cfg": minilm_text_cfg(context_length=32),
}


def read_image(path: str | Path) -> Image.Image:
    """Decode an image file to RGB, or raise ``InputError`` naming the file and what is wrong with it."""
    return open_image(path).convert("RGB")


class ImageDomain(Domain):
    """RGB image-text pairs through an open_clip vision tower."""

    name = "image"
    modality = "rgb-image"
    file_suffixes = IMAGE_SUFFIXES
    primary_metric = "shape_top1"

    def read(self, path: str | Path) -> Image.Image:
        return read_image(path)

    def transform(self, spec: ModelSpec, train: bool) -> Any:
        return image_transform(
            spec.image_size,
            is_train=train,
            mean=spec.mean,
            std=spec.std,
            resize_mode=spec.resize_mode,
            interpolation=spec.interpolation,
            fill_color=spec.fill_color,
        )

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            name="rn-small-minilm",
            domain=self.name,
            model_cfg=SMALL_RESNET_MINILM,
            image_size=64,
            lock_text=True,
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
            return {"epochs": 1, "batch_size": 16, "warmup_steps": 2, "lr": 1e-3}
        return {"epochs": 6, "batch_size": 100, "warmup_steps": 30, "lr": 1e-3, "weight_decay": 0.05}

    def write_demo_data(self, root: Path, seed: int = 0, small: bool = False) -> DemoData:
        sizes = {"n_train": 96, "n_heldout": 48} if small else {"n_train": 3000, "n_heldout": 600}
        paths = write_demo_dataset(root, seed=seed, **sizes)
        return DemoData(train=paths["train"], heldout=paths["heldout"])
