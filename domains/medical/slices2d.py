"""2D training pairs for RadCLIP's first stage: axial CT slices of the demo phantoms with slice-level captions.

A slice's caption names only what that slice shows (a nodule, fluid, the heart), in the wording of the volume
reports, so the 2D tower learns the findings that the 3D stage then pools over slices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .phantom import Findings

# Occupancy (voxels) on a slice from which a finding counts as visible on it.
VISIBLE = {"nodule": 1.0, "effusion": 3.0, "heart": 10.0}


@dataclass(frozen=True)
class SliceFindings:
    """What one axial slice shows."""

    index: int
    nodule: bool
    effusion: bool
    heart: bool


def slice_findings(masks: dict[str, np.ndarray], depth: int) -> list[SliceFindings]:
    """Per slice, which findings it shows, from the phantom's occupancy masks (see ``phantom.render``)."""

    def shown(name: str) -> np.ndarray:
        if name not in masks:
            return np.zeros(depth, dtype=bool)
        return masks[name].reshape(depth, -1).sum(axis=1) >= VISIBLE[name]

    nodule, effusion, heart = shown("nodule"), shown("effusion"), shown("heart")
    return [SliceFindings(k, bool(nodule[k]), bool(effusion[k]), bool(heart[k])) for k in range(depth)]


def choose_slices(shown: list[SliceFindings], rng: np.random.Generator, extra: int = 1) -> list[int]:
    """Every slice showing the nodule, the slice with the effusion nearest the middle, a mid-heart slice, and
    ``extra`` random slices: ascending, without repeats."""
    chosen = {s.index for s in shown if s.nodule}
    for flag in ("effusion", "heart"):
        hits = [s.index for s in shown if getattr(s, flag)]
        if hits:
            chosen.add(hits[len(hits) // 2])
    chosen.update(int(k) for k in rng.choice(len(shown), size=min(extra, len(shown)), replace=False))
    return sorted(chosen)


def slice_caption(f: Findings, s: SliceFindings, sentences: dict[str, tuple[str, ...]], rng: np.random.Generator):
    """A caption of slice ``s`` of a phantom with findings ``f``: what it shows, in the reports' phrases, and its
    slice-level labels ``(caption, nodule, effusion, cardiomegaly)``."""
    parts = ["Axial CT image of the chest."]
    nodule = s.nodule and f.nodule_side is not None
    if nodule:
        density = "solid" if f.nodule_hu >= 50 else "part-solid"
        words = {"size": int(f.nodule_mm), "density": density, "side": f.nodule_side}
        words["Side"] = str(f.nodule_side).capitalize()
        parts.append(_pick(rng, sentences["nodule"]).format(lobe=f.nodule_lobe, **words))
    else:
        parts.append(_pick(rng, sentences["no_nodule"]))
    effusion = s.effusion and f.effusion_side is not None
    if effusion:
        amount = "small" if f.effusion_mm < 40 else "moderate"
        words = {"amount": amount, "Amount": amount.capitalize(), "side": f.effusion_side}
        words["Side"] = str(f.effusion_side).capitalize()
        parts.append(_pick(rng, sentences["effusion"]).format(**words))
    else:
        parts.append(_pick(rng, sentences["no_effusion"]))
    cardiomegaly = s.heart and f.cardiomegaly
    if s.heart:
        parts.append(_pick(rng, sentences["big_heart" if f.cardiomegaly else "normal_heart"]))
    return " ".join(parts), int(nodule), int(effusion), int(cardiomegaly)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]
