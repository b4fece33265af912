"""Pictures as a checkpoint sees them: an 8-bit RGB picture of any decoded image, then open_clip's image transform of
a spec's preprocessing (size, mean, std, resize mode, interpolation with PIL's antialiasing, fill).

A domain decides how one of its files becomes an 8-bit RGB picture (a DICOM radiograph through its VOI window, a
Sentinel-2 scene as true colour); from there, an imported checkpoint is fed exactly the tensor its own preprocessing
gives (:class:`CheckpointPixels`), in every domain, so that its authors' accuracy carries over (open_clip #1068).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from open_clip.transform import image_transform
from PIL import Image
from torchvision.transforms import Compose
from torchvision.transforms.v2 import functional as TF

from .spec import PREPROCESS_LIBRARY, ModelSpec

WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # greys beyond 8 bits: Pillow clips these at 255


def stored_range_to_8bit(values: np.ndarray) -> np.ndarray:
    """Grey values scaled from their stored range (min..max) to 0..255 and rounded to uint8 (a flat picture: 0)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def picture8(img: Image.Image) -> Image.Image:
    """An 8-bit picture of a decoded image, in its own mode (grey, RGB, RGBA, palette): 16-bit and float greys are
    scaled from their stored range to 0..255, where Pillow's RGB conversion would clip every value above 255 (a
    12-bit radiograph would turn white)."""
    if img.mode in WIDE_MODES:
        return Image.fromarray(stored_range_to_8bit(np.asarray(img)), mode="L")
    return img


def rgb8(img: Image.Image) -> Image.Image:
    """An 8-bit RGB picture of a decoded image (:func:`picture8`, then greys replicated, palettes expanded, alpha
    dropped, as Pillow's ``convert("RGB")`` does)."""
    img = picture8(img)
    return img if img.mode == "RGB" else img.convert("RGB")


def rgb_on_white(img: Image.Image) -> Image.Image:
    """An 8-bit RGB picture with any transparency composited on white (what transformers' ``convert_to_rgb`` does,
    and how product cut-outs are shown)."""
    img = picture8(img)
    if "A" in img.getbands() or img.info.get("transparency") is not None:
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


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


class TransformersPixels:
    """RGB picture -> tensor as transformers' ``CLIPImageProcessor`` (its torchvision backend) preprocesses: a uint8
    tensor resized by torchvision's v2 functional (which rounds uint8 otherwise than v1) with antialiasing
    (shortest side, or both sides without a crop), centre crop, then the rescale by 1/255 fused into the mean/std,
    in float32."""

    def __init__(self, spec: ModelSpec):
        self.size = spec.image_size
        self.crop = spec.resize_mode != "squash"
        modes = {"bicubic": TF.InterpolationMode.BICUBIC, "bilinear": TF.InterpolationMode.BILINEAR}
        self.interpolation = modes[spec.interpolation]
        self.mean = torch.tensor(spec.mean) * (1.0 / (1 / 255))
        self.std = torch.tensor(spec.std) * (1.0 / (1 / 255))

    def __call__(self, img: Image.Image) -> torch.Tensor:
        pixels = TF.pil_to_tensor(img)
        height, width = pixels.shape[-2:]
        if not self.crop:
            size = [self.size, self.size]
        elif height <= width:
            size = [self.size, int(self.size * width / height)]
        else:
            size = [int(self.size * height / width), self.size]
        pixels = TF.resize(pixels, size, interpolation=self.interpolation, antialias=True)
        if self.crop:
            top, left = int((pixels.shape[-2] - self.size) / 2.0), int((pixels.shape[-1] - self.size) / 2.0)
            pixels = TF.crop(pixels, top, left, self.size, self.size)
        return TF.normalize(pixels.to(torch.float32), self.mean, self.std)


class CheckpointPixels:
    """A domain's decoded picture (a PIL image, or an ``[h, w]`` / ``[h, w, 3]`` uint8 array) -> the tensor the
    checkpoint's own preprocessing gives: open_clip's eval transform of the spec (resize with PIL's antialiasing,
    crop, then RGB, then mean/std), or for a transformers checkpoint :class:`TransformersPixels` (RGB on white
    first, as ``CLIPProcessor`` does). Tiles from whole slides, tile files, radiographs and the slices of a volume
    all go through this one function."""

    def __init__(self, spec: ModelSpec):
        self.rgb_first = spec.extra.get(PREPROCESS_LIBRARY) == "transformers"
        self.transform = TransformersPixels(spec) if self.rgb_first else spec_image_transform(spec, train=False)

    def picture(self, pixels: Any) -> Image.Image:
        if not isinstance(pixels, Image.Image):
            array = np.asarray(pixels)
            if array.dtype != np.uint8:
                raise TypeError(f"a picture array must be uint8, got {array.dtype}")
            pixels = Image.fromarray(np.ascontiguousarray(array))
        return rgb_on_white(pixels) if self.rgb_first else picture8(pixels)

    def __call__(self, pixels: Any) -> torch.Tensor:
        return self.transform(self.picture(pixels))
