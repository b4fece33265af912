"""Build a model from a spec with open_clip, load weights safely, lock towers (LiT)."""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch
from open_clip.hf_model import HFTextEncoder
from safetensors.torch import load_file, save_file
from torch import nn
from torch.overrides import TorchFunctionMode

from .adapt.head import AdaptedHead
from .errors import InputError
from .ood import EmbeddingStats
from .spec import ModelSpec
from .text import build_tokenizer, lock_text_tower, resolve_model_cfg
from .towers import vision_tower

log = logging.getLogger(__name__)


@dataclass
class ClipModel:
    """An open_clip model with the tokenizer and spec it was built from, its few-shot classifier head when it was
    adapted (``clipzoo adapt``), and the statistics of its held-out embeddings when it was registered with some."""

    model: nn.Module
    tokenizer: object
    spec: ModelSpec
    head: AdaptedHead | None = None
    ood: EmbeddingStats | None = None  # held-out embedding statistics, for "unlike anything evaluated on" warnings
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


def build_model(
    spec: ModelSpec, pretrained: str | None = None, load_text_weights: bool = True, empty: bool = False
) -> ClipModel:
    """Create the spec's model with open_clip and apply its vision tower, pretrained weights and locks.

    ``pretrained`` (default ``spec.pretrained``) is a local checkpoint file (.safetensors, or a torch file read with
    ``weights_only=True``), ``local-dir:<folder>`` holding ``open_clip_config.json`` and weights, or ``hf-hub:<id>``
    already in the Hugging Face cache. ``load_text_weights=False`` skips loading a pretrained HF text tower when full
    weights follow anyway (registry loads).

    ``empty=True``: every weight follows (a registered model, an imported checkpoint), so the parameters are made on
    the ``meta`` device, with no memory and no random initialisation, for ``assign_state_dict`` / ``load_weights(...,
    assign=True)`` to put the loaded tensors in their place (buffers are real: open_clip computes its attention masks
    at construction). ``pretrained`` is ignored.
    """
    if empty:
        try:
            with parameters_on_meta():
                return _build(spec.replace(pretrained=None), None, load_text_weights=False)
        except (NotImplementedError, RuntimeError) as err:  # a tower computing with its weights as it is built
            log.debug("building %s with real parameters: %s", spec.name, err)
            return _build(spec.replace(pretrained=None), None, load_text_weights=False)
    return _build(spec, pretrained, load_text_weights)


def _build(spec: ModelSpec, pretrained: str | None, load_text_weights: bool) -> ClipModel:
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


class _MetaStaysMeta(TorchFunctionMode):
    """``Tensor.to`` of a meta tensor keeps it on the meta device (with the dtype asked for): open_clip moves a model
    it has just made ``.to(device)``, and a meta parameter cannot be copied out. Modes are per thread."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            target = func(torch.empty(0, dtype=args[0].dtype), *args[1:], **kwargs)  # what it asks for, on a probe
            return args[0] if target.dtype == args[0].dtype else args[0].to(dtype=target.dtype)
        return func(*args, **kwargs)


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Parameters registered in this thread inside the block go to the ``meta`` device (shape and dtype, no memory;
    initialisers do nothing on it) and stay there when the model is moved; buffers stay real. Each parameter is
    allocated uninitialised for an instant first (``torch.empty``: its pages are never touched), as its module's
    constructor makes it."""
    register = nn.Module.register_parameter
    thread = threading.get_ident()

    def register_on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and not param.is_meta and threading.get_ident() == thread:
            param = type(param)(param.detach().to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = register_on_meta  # type: ignore[method-assign]
    try:
        with warnings.catch_warnings(), _MetaStaysMeta():
            # a tower loading RGB weights into the meta parameters (they are loaded next anyway)
            warnings.filterwarnings("ignore", message=".*copying from a non-meta parameter.*")
            yield
    finally:
        nn.Module.register_parameter = register  # type: ignore[method-assign]


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
    """Write the model's state dict as safetensors. Written from the tensors' own memory (safetensors writes from
    their pointers): only a non-contiguous tensor, or one overlapping another (tied weights), is copied first."""
    path = Path(path)
    state, spans = {}, []
    for key, value in model.state_dict().items():
        value = value.detach().contiguous()
        if value.numel():
            spans.append((value.data_ptr(), value.data_ptr() + value.numel() * value.element_size(), key))
        state[key] = value
    spans.sort()
    end = 0
    for start, stop, key in spans:
        if start < end:  # shares memory with a tensor before it: its own copy, as safetensors requires
            state[key] = state[key].clone()
        end = max(end, stop)
    save_file(state, str(path))
    return path


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of safetensors or a torch checkpoint (``weights_only=True``: never unpickle arbitrary objects),
    memory-mapped: a tensor's pages are read from the file when it is used, and only those count in memory. A
    ``state_dict``/``model`` wrapper is unwrapped. A torch file in the legacy (pre-zip) format is read whole."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_file(str(path))  # memory-mapped (safetensors' default backend)
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    return state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state


def assign_state_dict(model: nn.Module, state: dict[str, torch.Tensor], strict: bool = True) -> None:
    """Load ``state`` by making its tensors the model's parameters and buffers (``load_state_dict(assign=True)``):
    no copy, so a memory-mapped tensor stays mapped, and a model made with ``build_model(..., empty=True)`` gets its
    weights. A tensor of another dtype than the model's is cast to it first, as a copying load would; the model keeps
    its parameters' ``requires_grad``. Raises when a parameter is left on the meta device."""
    own = model.state_dict(keep_vars=True)
    fitted = {}
    for key, value in state.items():
        target = own.get(key)
        if target is not None and value.dtype != target.dtype:
            value = value.to(target.dtype)
        fitted[key] = value
    model.load_state_dict(fitted, strict=strict, assign=True)
    fitted.clear()
    empty = [name for name, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if empty:
        raise InputError(f"the weights leave {len(empty)} tensors of the model unset: {empty[:5]}")


def load_weights(model: nn.Module, path: str | Path, strict: bool = True, assign: bool = False) -> None:
    """Load safetensors, or a torch checkpoint with ``weights_only=True``; never unpickle arbitrary objects. The file
    is memory-mapped; ``assign=True`` makes its tensors the model's own (see ``assign_state_dict``: no copy, and the
    way to fill a model built with ``empty=True``), otherwise they are copied into the model's."""
    state = read_weights(path)
    if assign:
        assign_state_dict(model, state, strict=strict)
    else:
        model.load_state_dict(state, strict=strict)
