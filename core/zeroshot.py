"""Zero-shot classification and retrieval: prompt packs, classifier weights, encoding in batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .errors import InputError
from .guards import check_deadline
from .model import ClipModel


@dataclass(frozen=True)
class PromptPack:
    """Class synonyms x templates. A class's text embedding is the renormalised mean of all its prompts (CONCH,
    open_clip's ``build_zero_shot_classifier``)."""

    name: str
    templates: tuple[str, ...]
    classes: dict[str, tuple[str, ...]]

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> PromptPack:
        templates = tuple(data.get("templates", ()))
        classes = {k: tuple(v) if isinstance(v, (list, tuple)) else (str(v),) for k, v in data["classes"].items()}
        pack = cls(name=name, templates=templates, classes=classes)
        pack.validate()
        return pack

    @classmethod
    def for_labels(cls, labels: Sequence[str], templates: Sequence[str] = ("{}",), name: str = "labels") -> PromptPack:
        """A pack for labels given at prediction time; each label is its own only synonym."""
        pack = cls(name=name, templates=tuple(templates), classes={str(lb): (str(lb),) for lb in labels})
        pack.validate()
        return pack

    @classmethod
    def load(cls, path: str | Path) -> dict[str, PromptPack]:
        data = json.loads(Path(path).read_text())
        return {name: cls.from_dict(name, d) for name, d in data.items()}

    def validate(self) -> None:
        if not self.classes:
            raise InputError(f"prompt pack {self.name!r} has no classes (empty label list)")
        if not self.templates or any("{}" not in t for t in self.templates):
            raise InputError(f"prompt pack {self.name!r}: every template needs one '{{}}' placeholder")
        empty = [c for c, syn in self.classes.items() if not syn or not all(s.strip() for s in syn)]
        if empty:
            raise InputError(f"prompt pack {self.name!r}: classes without a usable synonym: {empty}")

    @property
    def class_names(self) -> list[str]:
        return list(self.classes)

    def prompts(self, class_name: str) -> list[str]:
        return [t.format(s) for s in self.classes[class_name] for t in self.templates]

    def all_prompts(self) -> list[str]:
        return [p for c in self.classes for p in self.prompts(c)]


@torch.no_grad()
def encode_texts(clip: ClipModel, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """L2-normalised text embeddings, in batches."""
    device = next(clip.model.parameters()).device
    out = []
    for i in range(0, len(texts), batch_size):
        check_deadline()  # a served request past its time limit stops between batches
        tokens = clip.tokenize(list(texts[i : i + batch_size])).to(device)
        out.append(clip.model.encode_text(tokens, normalize=True).float())
    return torch.cat(out).cpu()


@torch.no_grad()
def classifier_weights(clip: ClipModel, pack: PromptPack) -> torch.Tensor:
    """[C, D] class embeddings: all prompts of a class encoded, averaged and renormalised."""
    counts = [len(pack.prompts(c)) for c in pack.class_names]
    emb = encode_texts(clip, pack.all_prompts())
    per_class = torch.split(emb, counts)
    return F.normalize(torch.stack([e.mean(0) for e in per_class]), dim=-1)


def class_logits(features: torch.Tensor, weights: torch.Tensor, clip: ClipModel) -> torch.Tensor:
    """The model's scaled cosine logits ``[N, C]`` of features ``[N, D]`` against class embeddings ``[C, D]``."""
    scale = clip.model.logit_scale.exp().detach().float().cpu()
    return scale * F.normalize(features.float(), dim=-1) @ weights.T


def is_sigmoid(clip: ClipModel) -> bool:
    """Whether the model scores each class on its own (SigLIP's sigmoid) rather than by a softmax over them."""
    return clip.spec.loss == "siglip" and getattr(clip.model, "logit_bias", None) is not None


def class_probabilities(
    features: torch.Tensor, weights: torch.Tensor, clip: ClipModel, temperature: float | None = None
) -> torch.Tensor:
    """Softmax over classes of the model's scaled cosine logits, divided by ``temperature`` when one was fitted
    (``clipzoo.core.calibration``); a sigmoid per class for SigLIP, never tempered."""
    logits = class_logits(features, weights, clip)
    if is_sigmoid(clip):
        return torch.sigmoid(logits + clip.model.logit_bias.detach().float().cpu())
    return (logits / (temperature or 1.0)).softmax(dim=-1)
