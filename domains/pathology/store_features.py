"""``clipzoo embed MODEL --data slides.csv --out DIR --task slide``: each slide tiled and encoded once, its features
stored as ``DIR/<slide stem>.h5`` (``features.py``) for ``--task slide --option features_dir=DIR`` to read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clipzoo.core.model import ClipModel

from .features import features_fingerprint, features_path, stored_fingerprint, write_features
from .slide import open_slide
from .slide_options import SlideOptions
from .slide_zeroshot import encode_slide
from .tiling import plan_tiles
from .transforms import tile_transform


def store_slide_features(
    clip: ClipModel, path: str | Path, out: str | Path, options: dict[str, Any], model: str
) -> tuple[Path, bool]:
    """Write the slide's features file (the tiling settings are the slide task's options); returns its path and
    whether it was written (False: an up-to-date file was already there)."""
    opts = SlideOptions.parse(options)
    target = features_path(out, path)
    fingerprint = features_fingerprint(clip, opts.mpp, opts.tile_px, opts.min_tissue)
    if stored_fingerprint(target) == fingerprint:
        return target, False
    with open_slide(Path(path), mpp=opts.slide_mpp) as slide:
        plan = plan_tiles(slide, opts.mpp, opts.tile_px, min_tissue=opts.min_tissue)
        features = encode_slide(clip, slide, plan, tile_transform(clip.spec, False), opts.batch_size)
        write_features(target, slide, plan, features, fingerprint, model, clip.weights_sha256 or "")
    return target, True
