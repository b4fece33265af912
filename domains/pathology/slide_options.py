"""The settings of a slide prediction (``--option KEY=VALUE`` on the CLI, the ``options`` JSON param of the server),
checked once per request: a wrong setting is an ``InputError`` naming it, never a silent default."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from clipzoo.core.errors import InputError

from .slide import magnification_to_mpp
from .slide_zeroshot import DEFAULT_K, DEFAULT_KS

DEFAULT_MPP = 0.5


@dataclass(frozen=True)
class SlideOptions:
    """How slides are tiled, pooled and reported."""

    mpp: float = DEFAULT_MPP  # tiling resolution, um/px (or give ``magnification``: 20 -> 0.5)
    slide_mpp: float | None = None  # the slide's own level-0 um/px when its file does not say
    tile_px: int = 224  # tile side at ``mpp``; each tile is then resized to the model input
    k: int = DEFAULT_K  # top-K tiles pooled for the reported labels and scores
    ks: tuple[int, ...] = DEFAULT_KS  # further K whose labels are reported too (``label_per_k``)
    min_tissue: float = 0.25  # a tile with less tissue than this fraction is skipped
    batch_size: int = 64  # tiles encoded per forward pass
    heatmap_dir: str | None = None  # write <slide name>.heatmap.png here
    features_dir: str | None = None  # read <slide stem>.h5 features stored by `clipzoo embed --task slide`
    tile_coords: bool = False  # report each used tile's level-0 (x, y)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return (*(f.name for f in fields(cls)), "magnification")

    @classmethod
    def parse(cls, options: dict[str, Any]) -> SlideOptions:
        """Options of a request; unknown keys and values of the wrong type or range are refused."""
        unknown = sorted(set(options) - set(cls.names()))
        if unknown:
            raise InputError(f"unknown slide option(s) {unknown}; known: {', '.join(cls.names())}")
        values = dict(options)
        if "magnification" in values:
            if "mpp" in values:
                raise InputError("give the slide option 'mpp' or 'magnification', not both")
            values["mpp"] = magnification_to_mpp(_number(values.pop("magnification"), "magnification"))
        parsed: dict[str, Any] = {}
        for key in ("mpp", "min_tissue"):
            if key in values:
                parsed[key] = _number(values[key], key)
        if values.get("slide_mpp") is not None:
            parsed["slide_mpp"] = _number(values["slide_mpp"], "slide_mpp")
        for key, low in (("tile_px", 8), ("k", 1), ("batch_size", 1)):
            if key in values:
                parsed[key] = _integer(values[key], key, low)
        if "ks" in values:
            ks = values["ks"] if isinstance(values["ks"], (list, tuple)) else [values["ks"]]
            parsed["ks"] = tuple(sorted({_integer(v, "ks", 1) for v in ks}))
        for key in ("heatmap_dir", "features_dir"):
            if values.get(key) not in (None, ""):
                if not isinstance(values[key], str):
                    raise InputError(f"slide option {key!r} must be a folder path, got {values[key]!r}")
                parsed[key] = values[key]
        if "tile_coords" in values:
            if not isinstance(values["tile_coords"], bool):
                raise InputError(f"slide option 'tile_coords' must be true or false, got {values['tile_coords']!r}")
            parsed["tile_coords"] = values["tile_coords"]
        result = cls(**parsed)
        if not 0.0 <= result.min_tissue <= 1.0:
            raise InputError(f"slide option 'min_tissue' must lie in [0, 1], got {result.min_tissue}")
        return result


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InputError(f"slide option {key!r} must be a non-negative number, got {value!r}")
    if value == 0 and key != "min_tissue":
        raise InputError(f"slide option {key!r} must be positive, got {value!r}")
    return float(value)


def _integer(value: Any, key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"slide option {key!r} must be an integer >= {low}, got {value!r}")
    return value
