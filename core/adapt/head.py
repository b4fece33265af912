"""An adapted classifier head: a few-shot adapter blended with the zero-shot text classifier, saved beside the
model's weights (safetensors + JSON) so that a registered adapted version predicts and serves like any other."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..calibration import temperature_of
from ..errors import InputError
from .methods import Adapter

HEAD_WEIGHTS = "adapter.safetensors"
HEAD_CONFIG = "adapter.json"
_TEXT = "text_classifier"
CALIBRATION = "calibration"  # info key: the head's Calibration (clipzoo.core.calibration), fitted on held-out rows
OPERATING_POINT = "operating_point"  # info key: a present/absent head's OperatingPoint on P(present)


@dataclass
class AdaptedHead:
    """``logits = s * x @ text.T + alpha * adapter(x)`` over L2-normalised features ``x``: ``text`` holds the
    zero-shot class embeddings, ``s`` the model's logit scale, ``alpha`` the blend chosen by cross-validation on the
    shots. ``info`` records how it was fitted (label column, shots, their manifest's sha256, cross-validation)."""

    method: str
    classes: list[str]
    text: torch.Tensor
    logit_scale: float
    adapter: Adapter
    alpha: float
    info: dict[str, Any] = field(default_factory=dict)

    def zero_shot_logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.logit_scale * features.float() @ self.text.T

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        out = self.zero_shot_logits(features)
        if self.alpha:
            out = out + self.alpha * self.adapter.logits(features)
        return out

    @property
    def temperature(self) -> float | None:
        """The temperature fitted on held-out rows (``info["calibration"]``), or None: the head is not calibrated."""
        return temperature_of(self.info.get(CALIBRATION))

    def probabilities(self, features: torch.Tensor, classes: list[str] | None = None) -> torch.Tensor:
        """Softmax over all adapted classes, or over the subset ``classes`` (in that order), of the logits divided
        by the head's fitted temperature when it has one."""
        logits = self.logits(features)
        if classes is not None:
            logits = logits[:, [self.classes.index(c) for c in classes]]
        return (logits / (self.temperature or 1.0)).softmax(dim=-1)

    def describe(self) -> str:
        """One line for a terminal or a prediction row."""
        shots = self.info.get("shots_per_class")
        return f"{self.method} adapted on {shots} shots per class" if shots else f"{self.method} adapted"

    def save(self, folder: str | Path) -> list[str]:
        """Write the head into a model folder; returns the file names written (to be checksummed)."""
        folder = Path(folder)
        tensors = {_TEXT: self.text.contiguous()}
        tensors.update({f"adapter.{k}": v.contiguous() for k, v in self.adapter.tensors.items()})
        save_file(tensors, str(folder / HEAD_WEIGHTS))
        config = {
            "method": self.method,
            "classes": self.classes,
            "logit_scale": self.logit_scale,
            "alpha": self.alpha,
            "adapter_kind": self.adapter.kind,
            "adapter_settings": self.adapter.settings,
            "info": self.info,
        }
        (folder / HEAD_CONFIG).write_text(json.dumps(config, indent=2, default=str))
        return [HEAD_WEIGHTS, HEAD_CONFIG]

    @classmethod
    def load(cls, folder: str | Path) -> AdaptedHead | None:
        """The head saved in a model folder, or None when the model is not adapted."""
        folder = Path(folder)
        if not (folder / HEAD_CONFIG).is_file():
            return None
        try:
            config = json.loads((folder / HEAD_CONFIG).read_text())
            tensors = load_file(str(folder / HEAD_WEIGHTS))
        except (OSError, ValueError) as err:
            raise InputError(f"unreadable adapted head: {err}", folder) from err
        adapter_tensors = {k.removeprefix("adapter."): v for k, v in tensors.items() if k.startswith("adapter.")}
        adapter = Adapter(config["adapter_kind"], adapter_tensors, config["adapter_settings"])
        return cls(
            method=config["method"],
            classes=list(config["classes"]),
            text=tensors[_TEXT],
            logit_scale=float(config["logit_scale"]),
            adapter=adapter,
            alpha=float(config["alpha"]),
            info=config.get("info", {}),
        )
