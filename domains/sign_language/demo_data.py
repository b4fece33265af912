"""Demo data: synthetic isolated signs written as real ``.pose`` files with pose-format, with English captions.

Each clip is one signer (size, position, tempo, amplitude, lean, handedness drawn per signer) signing one of the
signs of ``synth.SIGNS`` at 25 or 30 fps, in the MediaPipe Holistic component layout with the face reduced to its 128
contour points (SignCLIP's 203 points; see ``layouts``). Held-out signers never appear in training. Captions carry
SignCLIP's language tags: ``<en> <ase> thank you``; the zero-shot prompts in ``prompts.json`` use wordings
("the sign for ...") that no training caption contains.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.ma as ma
from clipzoo.core.files import demo_is_current, mark_demo_complete, package_json
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody

from .layouts import holistic_header
from .synth import SIGNS, SignDef, Signer, render_sign

FORMAT_VERSION = 1
SIGN_LANGUAGE, SPOKEN_LANGUAGE = "ase", "en"
MANIFEST_COLUMNS = ("path", "caption", "gloss", "text", "sign_lang", "spoken_lang", "signer")
SMALL_GLOSSES = ("HELLO", "PLEASE", "HOUSE", "YES", "EAT", "BIG")


def tagged(text: str, sign_lang: str = SIGN_LANGUAGE, spoken_lang: str = SPOKEN_LANGUAGE) -> str:
    """SignCLIP's text prompt: spoken- and sign-language tags, then the text (``<en> <ase> house``)."""
    return f"<{spoken_lang}> <{sign_lang}> {text}"


def write_pose(path: Path, pixels: np.ndarray, confidence: np.ndarray, fps: float) -> None:
    """Write [T, 203, 3] pixel coordinates and [T, 203] confidences as a .pose file (one person)."""
    mask = np.repeat((confidence == 0)[:, None, :, None], 3, axis=-1)
    body = NumPyPoseBody(fps=fps, data=ma.masked_array(pixels[:, None], mask=mask), confidence=confidence[:, None])
    tmp = path.with_suffix(".pose.tmp")
    with tmp.open("wb") as f:
        Pose(holistic_header(), body).write(f)
    os.replace(tmp, path)


def _write_split(
    root: Path, name: str, signs: tuple[SignDef, ...], signers: int, reps: int, rng: np.random.Generator
) -> Path:
    import pandas as pd

    rows = []
    (root / "poses").mkdir(parents=True, exist_ok=True)
    for s in range(signers):
        signer = Signer.sample(rng)
        signer_id = f"{name}-{s:02d}"
        for sign in signs:
            for r in range(reps):
                fps = float(rng.choice([25.0, 30.0]))
                pixels, confidence = render_sign(sign, signer, rng, fps)
                rel = f"poses/{signer_id}-{sign.gloss.lower()}-{r}.pose"
                write_pose(root / rel, pixels, confidence, fps)
                text = sign.meanings[int(rng.integers(len(sign.meanings)))]
                rows.append((rel, tagged(text), sign.gloss, text, SIGN_LANGUAGE, SPOKEN_LANGUAGE, signer_id))
    manifest = root / f"{name}.csv"
    tmp = root / f".{name}.csv.tmp"
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(tmp, index=False)
    os.replace(tmp, manifest)
    return manifest


def write_demo_dataset(root: Path | str, small: bool = False, seed: int = 0) -> dict[str, Path]:
    """Write ``root/poses/*.pose`` and manifests ``root/train.csv``, ``root/heldout.csv`` (disjoint signers).

    Full: 20 signs x 12 signers x 2 = 480 training clips, 20 x 6 x 2 = 240 held-out. Small: 6 signs, 48 + 36.
    ``root/DONE.json`` records the arguments; a re-run over a complete dataset returns at once.
    """
    root = Path(root)
    signs = tuple(s for s in SIGNS if s.gloss in SMALL_GLOSSES) if small else SIGNS
    sizes = {"train": (4, 2), "heldout": (3, 2)} if small else {"train": (12, 2), "heldout": (6, 2)}
    paths = {name: root / f"{name}.csv" for name in sizes}
    args = {"format": FORMAT_VERSION, "small": small, "seed": seed}
    if demo_is_current(root, args, list(paths.values())):
        return paths
    for stream, (name, (signers, reps)) in enumerate(sizes.items()):
        _write_split(root, name, signs, signers, reps, np.random.default_rng([seed, stream]))
    mark_demo_complete(root, args)
    return paths


def load_prompt_packs() -> dict[str, dict]:
    """The zero-shot prompt pack ``sign`` of ``prompts.json``: gloss -> English meanings, tagged templates."""
    return package_json("clipzoo.domains.sign_language", "prompts.json")
