"""The open_clip image transform of a spec's preprocessing (size, mean, std, resize mode, interpolation, fill)."""

from __future__ import annotations

from open_clip.transform import image_transform
from torchvision.transforms import Compose

from .spec import ModelSpec


def spec_image_transform(spec: ModelSpec, train: bool) -> Compose:
    """PIL image -> normalised ``[3, S, S]`` tensor exactly as open_clip preprocesses for this checkpoint."""
    return image_transform(
        spec.image_size,
        is_train=train,
        mean=spec.mean,
        std=spec.std,
        resize_mode=spec.resize_mode,
        interpolation=spec.interpolation,
        fill_color=spec.fill_color,
    )
