"""Product images: decoding (JPEG/PNG/WebP) and CLIP4Cir's aspect-preserving "targetpad" transform.

Product shots are tall (dresses, trousers) or wide (shoes, bags); a centre crop cuts the garment away, so images are
padded towards square (CLIP4Cir's ``TargetPad``) before they are resized. ``target_ratio=1.0`` pads to an exact
square; CLIP4Cir's 1.25 pads only images longer than 1.25:1 and lets the centre crop take the last few pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from clipzoo.core.files import open_image
from clipzoo.core.images import rgb_on_white
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

PRODUCT_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
PAD_FILL = (255, 255, 255)  # catalogue shots are on white; CLIP4Cir pads with black


def read_product_image(path: str | Path) -> Image.Image:
    """Decode a product image to RGB (transparent cut-outs on white), or raise ``InputError`` naming the file."""
    return rgb_on_white(open_image(path))  # transparent product cut-outs go on white, not black


class TargetPad:
    """Pad an image so that its long side is at most ``target_ratio`` times its short side (CLIP4Cir)."""

    def __init__(self, target_ratio: float = 1.0, fill: tuple[int, int, int] = PAD_FILL):
        if target_ratio < 1.0:
            raise ValueError(f"target_ratio must be >= 1, got {target_ratio}")
        self.target_ratio = target_ratio
        self.fill = fill

    def __call__(self, image: Image.Image) -> Image.Image:
        w, h = image.size
        if max(w, h) / min(w, h) <= self.target_ratio:
            return image
        side = max(w, h) / self.target_ratio
        hp, vp = max(round((side - w) / 2), 0), max(round((side - h) / 2), 0)
        return TF.pad(image, [hp, vp, hp, vp], fill=self.fill, padding_mode="constant")

    def __repr__(self) -> str:
        return f"TargetPad(target_ratio={self.target_ratio})"


def product_transform(
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    train: bool,
    target_ratio: float = 1.0,
    interpolation: str = "bicubic",
) -> T.Compose:
    """targetpad -> resize -> centre crop (eval) or a mild random crop and flip (train) -> normalised tensor.

    No colour augmentation: colour is a label here. ``interpolation`` (``bicubic``/``bilinear``) is the model's own
    (an imported checkpoint's ``preprocess_cfg``).
    """
    mode = T.InterpolationMode.BILINEAR if interpolation == "bilinear" else T.InterpolationMode.BICUBIC
    steps: list = [TargetPad(target_ratio)]
    if train:
        steps += [
            T.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(0.9, 1.1), interpolation=T.InterpolationMode.BICUBIC),
            T.RandomHorizontalFlip(),
        ]
    else:
        steps += [T.Resize(size, interpolation=mode), T.CenterCrop(size)]
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)


def to_tensor_batch(images: Sequence[Image.Image], transform: T.Compose) -> torch.Tensor:
    return torch.stack([transform(img) for img in images])
