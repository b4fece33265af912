"""The import job: a published checkpoint into the registry under its own line, with no training step.

Sources (``SOURCE`` of ``clipzoo import``):

- ``hf-hub:org/repo``: an open_clip repo (``open_clip_config.json`` + weights) or a transformers ``CLIPModel`` repo,
  read from the local Hugging Face cache (offline unless ``allow_download``);
- ``local-dir:FOLDER``, or a folder: open_clip's layout, or a transformers ``save_pretrained`` folder with its
  processor files;
- an open_clip architecture (``ViT-B-32``, or an open_clip model-config JSON) plus a state-dict file (``weights``);
- a zoo catalogue name of the domain (``biomedclip``), which fills in all of the above.

The checkpoint's own preprocessing (mean, std, size, resize mode, interpolation) and tokenizer are taken from its
files and written into the spec, together with the real open_clip ``model_cfg``; an HF text tower's config and
tokenizer files travel inside the registered package, so it rebuilds without the source or the Hub. The model is
evaluated on ``heldout`` when given and registered through the same publish path as a trained one (smoke
prediction, sha256, model card with source, revision, licence and citation, signature).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import torch
from clipzoo.core.checkpoints import (
    FORMAT_TRANSFORMERS,
    TEXT_FILES,
    Checkpoint,
    fit_state_dict,
    image_size_of,
    read_folder,
    read_state_dict_checkpoint,
)
from clipzoo.core.data import Manifest
from clipzoo.core.domain import Domain
from clipzoo.core.errors import InputError
from clipzoo.core.model import ClipModel, assign_state_dict, build_model
from clipzoo.core.operating_points import DEFAULT_SENSITIVITY
from clipzoo.core.spec import IMPORTED_FROM, PREPROCESS_LIBRARY, ModelSpec
from clipzoo.core.text import BUNDLED_PREFIX
from clipzoo.core.towers import vision_tower
from clipzoo.core.zoo import HF_HUB, STATE_DICT, ZooEntry
from clipzoo.registry.package import sha256_file
from clipzoo.registry.publish import Published
from clipzoo.registry.tracking import check_line, experiment_for

from .calibrate import check_sensitivity
from .evaluate import evaluate
from .register import register
from .zoo import download_hint, entry_status, find_entry

log = logging.getLogger(__name__)
LOCAL_DIR = "local-dir:"


@dataclass
class ImportResult:
    clip: ClipModel
    published: Published
    metrics: dict[str, float] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)  # the provenance written into the card


def _hub_snapshot(repo: str, allow_download: bool, patterns: list[str] | None = None) -> Path:
    """A repo's snapshot folder in the HF cache; with ``allow_download``, fetched when missing."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo, local_files_only=not allow_download, allow_patterns=patterns))
    except Exception as err:  # huggingface_hub raises several kinds for "not cached" / "offline"
        raise InputError(f"{repo} is not in the Hugging Face cache: {download_hint(repo)}") from err


def _hub_file(repo: str, filename: str, allow_download: bool) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo, filename, local_files_only=not allow_download))
    except Exception as err:
        raise InputError(
            f"{repo}/{filename} is not in the Hugging Face cache: {download_hint(repo, filename)}"
        ) from err


def _revision(path: Path) -> str | None:
    """The commit of an HF-cache snapshot folder (``.../snapshots/<commit>/...``)."""
    parts = path.parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


@dataclass
class _Located:
    checkpoint: Checkpoint
    source: str
    revision: str | None


def _read_source(
    source: str, weights: str | None, allow_download: bool, entry: ZooEntry | None, folder: str | None
) -> _Located:
    if entry is not None and entry.format == STATE_DICT:
        assert entry.file is not None and entry.architecture is not None
        local = Path(folder) / Path(entry.file).name if folder else None
        if local is not None and local.is_file():
            path, revision = local, None
        elif entry.repo:
            path = _hub_file(entry.repo, entry.file, allow_download)
            revision = _revision(path)
        else:
            raise InputError(f"{entry.name}: {entry_status(entry, folder).where}")
        ckpt = read_state_dict_checkpoint(entry.architecture, path, entry.preprocess)
        return _Located(ckpt, f"{entry.source}/{entry.file}", revision)
    if weights is not None:
        return _Located(read_state_dict_checkpoint(source, weights), f"{source} + {weights}", None)
    if source.startswith(HF_HUB):
        folder_path = _hub_snapshot(source[len(HF_HUB) :], allow_download)
        return _Located(read_folder(folder_path), source, folder_path.name)
    path = Path(source[len(LOCAL_DIR) :] if source.startswith(LOCAL_DIR) else source)
    if path.is_dir():
        return _Located(read_folder(path), str(path.resolve()), None)
    if path.is_file():
        raise InputError("a weights file needs its open_clip architecture first: ARCH FILE (e.g. ViT-B-32 FILE)", path)
    raise InputError(
        f"unknown source {source!r}: give hf-hub:ORG/REPO, local-dir:FOLDER, a folder, ARCH WEIGHTS, "
        "or a zoo entry of the domain (clipzoo zoo list)"
    )


@contextmanager
def _text_files(model_cfg: dict[str, Any], allow_download: bool) -> Iterator[Path | None]:
    """One folder with the config of the checkpoint's HF text tower and its tokenizer's files (no weights: the
    checkpoint holds them), gathered from local folders or the HF cache; None for open_clip's own text tower and
    tokenizer, or the bundled text model (which clipzoo ships)."""
    text_cfg = model_cfg["text_cfg"]
    names = [text_cfg.get("hf_model_name"), text_cfg.get("hf_tokenizer_name")]
    if not any(names) or any(str(n).startswith(BUNDLED_PREFIX) for n in names if n):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="clipzoo-text-") as tmp:
        merged = Path(tmp)
        for name in dict.fromkeys(n for n in names if n):
            folder = Path(name) if Path(name).is_dir() else _hub_snapshot(name, allow_download, list(TEXT_FILES))
            for file in TEXT_FILES:
                # the text model's config.json wins over a tokenizer repo's
                if (folder / file).is_file() and not (merged / file).exists():
                    shutil.copyfile(folder / file, merged / file)
        yield merged


def _spec(domain: Domain, line: str, ckpt: Checkpoint, source: str) -> ModelSpec:
    pre = ckpt.preprocess
    transformers = ckpt.format == FORMAT_TRANSFORMERS
    if pre.get("mode", "RGB") != "RGB":
        raise InputError(f"preprocessing mode {pre['mode']!r}: only RGB checkpoints are imported")
    model_cfg = dict(ckpt.model_cfg)
    vision_cfg = dict(model_cfg["vision_cfg"])
    if vision_cfg.get("timm_model_name"):
        vision_cfg["timm_model_pretrained"] = False  # the checkpoint holds the weights: never fetch timm's
    model_cfg["vision_cfg"] = vision_cfg
    return ModelSpec(
        name=line,
        domain=domain.name,
        model_cfg=model_cfg,
        image_size=image_size_of(pre.get("size", vision_cfg.get("image_size", 224))),
        mean=tuple(float(x) for x in pre["mean"]),
        std=tuple(float(x) for x in pre["std"]),
        resize_mode=str(pre.get("resize_mode", "shortest")),
        interpolation=str(pre.get("interpolation", "bicubic")),
        fill_color=int(pre.get("fill_color", 0)),
        extra={IMPORTED_FROM: source, PREPROCESS_LIBRARY: "transformers" if transformers else "open_clip"},
    )


def _build(spec: ModelSpec, ckpt: Checkpoint, text_dir: Path | None, domain: Domain) -> ClipModel:
    """The spec's open_clip model (text tower and tokenizer read from ``text_dir``) with the checkpoint's weights,
    loaded strictly: a checkpoint that does not fit its architecture fails here, naming the keys. The domain's
    ``import_spec`` then adapts the loaded model (its vision tower wraps the imported one, weights kept).

    The model is made without weights (``empty=True``) and takes the checkpoint's tensors as they are read
    (memory-mapped, ``assign``): one copy of the weights in memory, not the file's plus the model's. The checkpoint's
    ``state_dict`` is emptied."""
    build_spec = spec
    if text_dir is not None:
        cfg = {**spec.model_cfg, "text_cfg": dict(spec.model_cfg["text_cfg"])}
        for key in ("hf_model_name", "hf_tokenizer_name"):
            if cfg["text_cfg"].get(key):
                cfg["text_cfg"][key] = str(text_dir)
        build_spec = spec.replace(model_cfg=cfg)
    clip = build_model(build_spec, empty=True)
    state = fit_state_dict(clip.model, ckpt.state_dict)
    ckpt.state_dict = {}  # the model holds what it needs: a tensor cast or converted on the way is freed with it
    try:
        assign_state_dict(clip.model, state, strict=True)
    except RuntimeError as err:
        raise InputError(f"the checkpoint does not fit its open_clip architecture: {err}") from err
    del state
    adapted = domain.import_spec(spec)
    if adapted.vision_tower != spec.vision_tower:
        vision_tower(adapted)(clip.model, adapted)
    clip.model.eval()
    clip.spec = adapted
    return clip


def _provenance(located: _Located, entry: ZooEntry | None, licence: str | None) -> dict[str, Any]:
    ckpt = located.checkpoint
    info: dict[str, Any] = {
        "source": located.source,
        "format": ckpt.format,
        "revision": located.revision,
        "files": {f.name: sha256_file(f) for f in ckpt.files},
        "licence": licence or (entry.licence if entry else None),
        "licence_url": entry.licence_url if entry else None,
        "restrictions": list(entry.restrictions) if entry else [],
        "paper": entry.paper if entry else None,
        "citation": entry.citation if entry else None,
        "reported": [vars(r) for r in entry.reported] if entry else [],
    }
    if entry is not None:
        info["zoo_entry"] = f"{entry.domain}/{entry.name}"
    return info


def import_model(
    domain: Domain,
    source: str,
    line: str | None = None,
    weights: str | None = None,
    heldout: str | Path | None = None,
    licence: str | None = None,
    allow_download: bool = False,
    folder: str | None = None,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> ImportResult:
    """Import ``source`` (see the module doc) into ``domain`` as the line ``line`` (``clipzoo-<domain>-<line>``),
    evaluate it zero-shot on ``heldout`` when given (and calibrate it there, operating points at ``sensitivity``),
    and register it; returns the registered version."""
    check_sensitivity(sensitivity)
    entry = find_entry(domain, source) if weights is None else None
    if entry is not None and not entry.importable:
        raise InputError(f"zoo entry {entry.name!r} cannot be imported: {entry.why_not}")
    if entry is not None and entry.format != STATE_DICT:
        source = entry.source
    line = line or (entry.name if entry else None)
    if not line:
        raise InputError("name the model line: --name NAME (it is registered as clipzoo-<domain>-<NAME>)")
    check_line(line)
    located = _read_source(source, weights, allow_download, entry, folder)
    ckpt = located.checkpoint
    spec = _spec(domain, line, ckpt, located.source)
    provenance = _provenance(located, entry, licence)
    heldout_manifest = Manifest.read(heldout) if heldout else None
    with _text_files(spec.model_cfg, allow_download) as text_dir:
        package_text = text_dir if text_dir is not None else ckpt.text_dir
        clip = _build(spec, ckpt, package_text, domain)
        experiment_for(domain.name)
        with mlflow.start_run(run_name=f"import-{domain.name}-{line}"):
            mlflow.log_params(
                {
                    "import.source": located.source,
                    "import.format": ckpt.format,
                    "import.revision": located.revision or "local",
                    "domain": domain.name,
                    "line": line,
                }
            )
            mlflow.log_dict(clip.spec.to_dict(), "spec.json")
            metrics: dict[str, float] = {}
            features = None
            if heldout_manifest is not None:
                report = evaluate(clip, domain, heldout_manifest)
                metrics, features = report.metrics, report.features
            published = _publish(
                clip, domain, line, heldout_manifest, metrics, provenance, package_text, features, sensitivity
            )
    return ImportResult(clip, published, metrics, provenance)


def _publish(
    clip: ClipModel,
    domain: Domain,
    line: str,
    heldout: Manifest | None,
    metrics: dict[str, float],
    provenance: dict[str, Any],
    text_dir: Path | None,
    features: torch.Tensor | None = None,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> Published:
    data = {"training": "none: the published weights, unchanged"}
    if heldout is not None:
        data["held-out manifest"] = f"{heldout.source} ({len(heldout)} rows)"
    else:
        data["evaluation"] = "none here (no --heldout given): see the numbers its publishers report"
    metadata = {"import": provenance, "metrics": metrics}
    return register(clip, domain, data, heldout, metrics, metadata, line=line, source=provenance, text_dir=text_dir,
                    features=features, sensitivity=sensitivity)  # fmt: skip
