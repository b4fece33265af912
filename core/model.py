"""Build a model from a spec with open_clip, load weights safely, lock towers (LiT)."""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
from open_clip.hf_model import HFTextEncoder
from safetensors.torch import load_file, save_file
from torch import nn

from .adapt.head import AdaptedHead
from .errors import InputError
from .spec import ModelSpec
from .text import build_tokenizer, lock_text_tower, resolve_model_cfg
from .towers import vision_tower

log = logging.getLogger(__name__)


@dataclass
class ClipModel:
    """An open_clip model with the tokenizer and spec it was built from, and its few-shot classifier head when it
    was adapted (``clipzoo adapt``)."""

    model: nn.Module
    tokenizer: object
    spec: ModelSpec
    head: AdaptedHead | None = None
    weights_sha256: str | None = None  # of the registered weights file, when loaded from the registry

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Token ids ``[N, T]``. For a Hugging Face text tower, ``T`` stops at the batch's longest text instead of
        the context length: its attention mask and pooling ignore padding, so the embeddings are the same and short
        captions cost a fraction of the encoder's work."""
        tokens = self.tokenizer(texts)
        text = getattr(self.model, "text", None)
        if isinstance(text, HFTextEncoder) and tokens.numel():
            used = (tokens != text.config.pad_token_id).any(dim=0).nonzero()
            tokens = tokens[:, : int(used.max()) + 1 if used.numel() else 1]
        return tokens


def _register_config(spec: ModelSpec, model_cfg: dict) -> str:
    """Make the spec's model config known to open_clip under a unique name, through open_clip's public config API
    (``add_model_config`` reads the file into memory; the file is gone once the name is known)."""
    name = f"clipzoo-{spec.domain}-{spec.name}"
    with tempfile.TemporaryDirectory(prefix="clipzoo-open-clip-config-") as folder:
        path = Path(folder, f"{name}.json")
        path.write_text(json.dumps(model_cfg))
        open_clip.add_model_config(path)
    return name


def build_model(spec: ModelSpec, pretrained: str | None = None, load_text_weights: bool = True) -> ClipModel:
    """Create the spec's model with open_clip and apply its vision tower, pretrained weights and locks.

    ``pretrained`` (default ``spec.pretrained``) is a local checkpoint file (.safetensors, or a torch file read with
    ``weights_only=True``), ``local-dir:<folder>`` holding ``open_clip_config.json`` and weights, or ``hf-hub:<id>``
    already in the Hugging Face cache. ``load_text_weights=False`` skips loading a pretrained HF text tower when full
    weights follow anyway (registry loads).
    """
    pretrained = spec.pretrained if pretrained is None else pretrained
    model_cfg = resolve_model_cfg(spec.model_cfg)
    if pretrained and pretrained.startswith(("local-dir:", "hf-hub:")):
        model = open_clip.create_model(pretrained, weights_only=True)
        model_cfg = resolve_model_cfg(open_clip.get_model_config(pretrained))
    else:
        name = _register_config(spec, model_cfg)
        checkpoint = None
        if pretrained and spec.vision_tower == "open_clip":
            checkpoint = _existing_file(pretrained)
        with _quiet_random_init_warning():
            model = open_clip.create_model(
                name, pretrained=checkpoint, pretrained_text=load_text_weights, weights_only=True
            )
    vision_tower(spec)(model, spec)
    if pretrained and spec.vision_tower != "open_clip" and not pretrained.startswith(("local-dir:", "hf-hub:")):
        load_weights(model, _existing_file(pretrained))
    if spec.lock_image:
        model.lock_image_tower(unlocked_groups=0, freeze_bn_stats=True)
    if spec.lock_text:
        lock_text_tower(model, spec.unlocked_text_layers)
    return ClipModel(model=model, tokenizer=build_tokenizer(model_cfg), spec=spec)


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage() and "initialized partially" not in record.getMessage()


@contextlib.contextmanager
def _quiet_random_init_warning() -> Iterator[None]:
    """open_clip warns on the root logger when a model starts without CLIP weights: expected here (weights are
    loaded next, or the model is trained from scratch), so the warning would only mislead."""
    root = logging.getLogger()
    flt = _DropRandomInitWarning()
    root.addFilter(flt)
    try:
        yield
    finally:
        root.removeFilter(flt)


def _existing_file(path: str) -> str:
    if not Path(path).is_file():
        raise InputError("pretrained weights file not found", path)
    return path


def save_weights(model: nn.Module, path: str | Path) -> Path:
    """Write the model's state dict as safetensors (shared tensors cloned, contiguous)."""
    path = Path(path)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    return path


def load_weights(model: nn.Module, path: str | Path, strict: bool = True) -> None:
    """Load safetensors, or a torch checkpoint with ``weights_only=True``; never unpickle arbitrary objects."""
    path = Path(path)
    if path.suffix == ".safetensors":
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    model.load_state_dict(state, strict=strict)
