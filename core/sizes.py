"""The smallest and largest 2D input a model answers, from its input size.

Below a quarter of the model's input side (and never below ``MIN_SIDE_PX``) an image is mostly interpolation once
resized up: a 1x1 or 4x4 PNG would still get a confident answer, so it is refused. Beyond ``MAX_DOWNSCALE`` times the
input side (and at least ``MAX_SIDE_PX``) the input is a mosaic or a slide, not one picture: refused with a hint.
Domains say what their raw sample's 2D size is (``Domain.input_size``); ``Predictor`` checks it before transforming.
"""

from __future__ import annotations

import math

from .errors import InputError

MIN_SIDE_PX = 8
MAX_UPSCALE = 4  # an input side below image_size / 4 is refused
MAX_SIDE_PX = 16384
MAX_DOWNSCALE = 64  # an input side above max(MAX_SIDE_PX, 64 * image_size) is refused


def size_limits(image_size: int) -> tuple[int, int]:
    """(smallest, largest) side in pixels a model with ``image_size`` px input answers."""
    return max(MIN_SIDE_PX, math.ceil(image_size / MAX_UPSCALE)), max(MAX_SIDE_PX, MAX_DOWNSCALE * image_size)


def check_input_size(width: int, height: int, image_size: int, name: str | None = None) -> None:
    """Raise ``InputError`` naming the input, its size and the limit when it is too small or too large."""
    smallest, largest = size_limits(image_size)
    if min(width, height) < smallest:
        raise InputError(
            f"input is {width}x{height} px, smaller than this model's minimum of {smallest} px a side "
            f"(the model reads {image_size} px; a smaller input is mostly interpolation)",
            name,
        )
    if max(width, height) > largest:
        raise InputError(
            f"input is {width}x{height} px, larger than this model's maximum of {largest} px a side "
            f"(the model reads {image_size} px): crop or downscale it",
            name,
        )
