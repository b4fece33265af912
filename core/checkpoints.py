"""Published checkpoints read into open_clip's layout: an open_clip folder (``open_clip_config.json`` + weights, the
layout of ``hf-hub:`` repos and ``local-dir:`` folders), an open_clip architecture plus a bare state-dict file
(RemoteCLIP, GeoRSCLIP), or a transformers ``CLIPModel`` folder (``save_pretrained`` layout: PLIP, FashionCLIP 2.0).

transformers CLIP weights are *converted* to open_clip's ``CLIP`` layout rather than wrapped: the two architectures
are the same pre-LN transformer (q/k/v become one ``in_proj``; the projections are transposed), so one model class,
one weights file and the existing predict/pyfunc path serve every imported model, and a registered version rebuilds
from its spec with open_clip alone. A wrapper would have brought a second model class into core, the predictor,
the trainer's locking and the package format for the same arithmetic. The conversion refuses what open_clip cannot
express (another activation, LayerNorm epsilon or pooling), so nothing is converted approximately.

Nothing here downloads: every function reads local files; weights are read with safetensors or ``weights_only``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.transform import PreprocessCfg
from safetensors.torch import load_file

from .errors import InputError

OPEN_CLIP_CONFIG = "open_clip_config.json"
HF_CONFIG = "config.json"
HF_PREPROCESSOR = "preprocessor_config.json"
HF_PROCESSOR = "processor_config.json"  # transformers >= 5 saves a processor's image settings here
# open_clip's own preference when a folder holds several weight files (open_clip.factory._find_checkpoint_in_dir)
OPEN_CLIP_WEIGHTS = (
    "open_clip_model.safetensors", "open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth", "model.safetensors", "pytorch_model.bin", "pytorch_model.pth", "model.pth",
)  # fmt: skip
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
# Files of a Hugging Face tokenizer (and text-model config): packaged with a registered model so that its text
# tower and tokenizer rebuild without the Hub. Weights are never among them (they are in the model's safetensors).
TEXT_FILES = (
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "vocab.txt",
    "merges.txt", "spiece.model", "sentencepiece.bpe.model", "added_tokens.json",
)  # fmt: skip
_WRAPPERS = ("state_dict", "model", "module", "model_state_dict")
_RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL resample codes in a transformers preprocessor_config.json

FORMAT_OPEN_CLIP = "open_clip"
FORMAT_STATE_DICT = "open_clip-state-dict"
FORMAT_TRANSFORMERS = "transformers"


@dataclass
class Checkpoint:
    """A published checkpoint in open_clip's terms: the model config, the weights in open_clip's layout, the
    preprocessing it was trained with, and where its tokenizer / HF text config live when open_clip's own
    tokenizer is not the one."""

    format: str
    model_cfg: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    preprocess: dict[str, Any]
    files: list[Path] = field(default_factory=list)  # the source files read (hashed into the model card)
    text_dir: Path | None = None  # a folder with TEXT_FILES for an HF text tower / tokenizer, packaged on import


def default_preprocess(image_size: Any = 224) -> dict[str, Any]:
    return {**asdict(PreprocessCfg()), "size": image_size}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Weights of a file: safetensors, or torch with ``weights_only=True``; unwraps ``state_dict``/``model``
    wrappers (training checkpoints) and strips ``module.`` prefixes (DataParallel / DDP).

    The tensors are memory-mapped from the file (safetensors, and torch's zip format: ``torch.load(mmap=True)``), not
    read into memory: a tensor's pages are read when it is used, so a checkpoint converts tensor by tensor and loads
    into a model with ``assign=True`` without a second copy. A legacy (pre-zip) torch file is read whole."""
    path = Path(path)
    if not path.is_file():
        raise InputError("weights file not found", path)
    if path.suffix == ".safetensors":
        state: Any = load_file(str(path))  # memory-mapped (safetensors' default backend)
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
        except Exception as err:  # pickle errors name the refused global; the file is not a plain state dict
            raise InputError(f"not a weights-only torch checkpoint ({err})", path) from err
    while isinstance(state, dict):
        wrapped = [k for k in _WRAPPERS if isinstance(state.get(k), dict)]
        if not wrapped:
            break
        state = state[wrapped[0]]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("holds no state dict of tensors", path)
    while all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def fit_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """open_clip's own fixes before ``load_state_dict`` (``open_clip.factory.load_checkpoint``): old text layouts,
    scalar vs 1-d logit scale/bias, stale ``position_ids`` buffers."""
    from open_clip.model import convert_to_custom_text_state_dict

    state = dict(state)
    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        state = convert_to_custom_text_state_dict(state)
    for key in ("logit_scale", "logit_bias"):
        param = getattr(model, key, None)
        if key in state and param is not None and param.ndim != state[key].ndim:
            state[key] = state[key].reshape(param.shape)
    if "logit_bias" not in state and getattr(model, "logit_bias", None) is not None:
        state["logit_bias"] = torch.zeros(model.logit_bias.shape, dtype=model.logit_bias.dtype)  # model may be meta
    state.pop("text.transformer.embeddings.position_ids", None)
    return state


def _weights_in(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"holds none of the weight files {list(names)}", folder)


def image_size_of(size: Any) -> int:
    """open_clip sizes may be ``[h, w]``; the zoo's transforms take square inputs."""
    if isinstance(size, (list, tuple)):
        if len(set(size)) != 1:
            raise InputError(f"non-square input size {list(size)} is not supported")
        size = size[0]
    return int(size)


def read_open_clip_folder(folder: str | Path) -> Checkpoint:
    """An open_clip folder (an ``hf-hub:`` snapshot or a ``local-dir:``): its ``model_cfg``, ``preprocess_cfg``
    (open_clip's defaults where a key is absent, as open_clip itself does) and weights."""
    folder = Path(folder)
    config_path = folder / OPEN_CLIP_CONFIG
    if not config_path.is_file():
        raise InputError(f"not an open_clip folder (no {OPEN_CLIP_CONFIG})", folder)
    config = json.loads(config_path.read_text())
    model_cfg = config.get("model_cfg", config)
    weights = _weights_in(folder, OPEN_CLIP_WEIGHTS)
    size = model_cfg["vision_cfg"].get("image_size", 224)
    preprocess = {**default_preprocess(size), **config.get("preprocess_cfg", {})}
    return Checkpoint(FORMAT_OPEN_CLIP, model_cfg, read_state_dict(weights), preprocess, [config_path, weights])


def open_clip_architecture(arch: str) -> dict[str, Any]:
    """An open_clip model config by name (``ViT-B-32``) or from a JSON file (a model config, or an
    ``open_clip_config.json`` holding one under ``model_cfg``)."""
    if arch.endswith(".json"):
        path = Path(arch)
        if not path.is_file():
            raise InputError("architecture config not found", path)
        config = json.loads(path.read_text())
        return config.get("model_cfg", config)
    cfg = open_clip.get_model_config(arch)
    if cfg is None:
        raise InputError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    return cfg


def read_state_dict_checkpoint(arch: str, weights: str | Path, preprocess: dict[str, Any] | None = None) -> Checkpoint:
    """An open_clip architecture plus a bare state-dict file (``.pt``/``.pth``/``.bin``/``.safetensors``).
    Such a file carries no preprocessing: open_clip's defaults (OpenAI mean/std, bicubic, shortest side) unless the
    catalogue entry gives its own."""
    model_cfg = open_clip_architecture(arch)
    size = model_cfg["vision_cfg"].get("image_size", 224)
    files = [Path(weights)] + ([Path(arch)] if arch.endswith(".json") else [])
    state = read_state_dict(weights)
    return Checkpoint(FORMAT_STATE_DICT, model_cfg, state, {**default_preprocess(size), **(preprocess or {})}, files)


# --- transformers CLIPModel -> open_clip CLIP ---------------------------------------------------------------------


def _activation(cfg: Any, tower: str) -> bool:
    """Whether the tower uses QuickGELU (open_clip's ``quick_gelu``); GELU is open_clip's default."""
    act = getattr(cfg, "hidden_act", "quick_gelu")
    if act not in ("quick_gelu", "gelu"):
        raise InputError(f"the {tower} tower uses activation {act!r}; open_clip's CLIP has quick_gelu or gelu only")
    if float(getattr(cfg, "layer_norm_eps", 1e-5)) != 1e-5:
        raise InputError(f"the {tower} tower's LayerNorm eps {cfg.layer_norm_eps} differs from open_clip's 1e-5")
    return act == "quick_gelu"


def hf_clip_model_cfg(config: Any) -> dict[str, Any]:
    """The open_clip model config of a transformers ``CLIPConfig``."""
    t, v = config.text_config, config.vision_config
    quick = _activation(t, "text")
    if _activation(v, "vision") != quick:
        raise InputError("the text and vision towers use different activations; open_clip's CLIP uses one")
    if t.eos_token_id not in (2, t.vocab_size - 1):
        raise InputError(
            f"text eos_token_id {t.eos_token_id} is neither the legacy 2 nor the vocabulary's last id: open_clip "
            "pools the text at the largest token id, which would not be the end of the text"
        )
    return {
        "embed_dim": int(config.projection_dim),
        "quick_gelu": quick,
        "vision_cfg": {
            "image_size": int(v.image_size),
            "patch_size": int(v.patch_size),
            "width": int(v.hidden_size),
            "layers": int(v.num_hidden_layers),
            "head_width": int(v.hidden_size) // int(v.num_attention_heads),
            "mlp_ratio": int(v.intermediate_size) / int(v.hidden_size),
        },
        "text_cfg": {
            "context_length": int(t.max_position_embeddings),
            "vocab_size": int(t.vocab_size),
            "width": int(t.hidden_size),
            "heads": int(t.num_attention_heads),
            "layers": int(t.num_hidden_layers),
            "mlp_ratio": int(t.intermediate_size) / int(t.hidden_size),
        },
    }


def _convert_layers(state: dict[str, torch.Tensor], src: str, dst: str, n: int) -> dict[str, torch.Tensor]:
    out = {}
    for i in range(n):
        s, d = f"{src}.encoder.layers.{i}", f"{dst}.resblocks.{i}"
        for part in ("weight", "bias"):
            out[f"{d}.attn.in_proj_{part}"] = torch.cat(
                [state[f"{s}.self_attn.{p}_proj.{part}"] for p in ("q", "k", "v")], dim=0
            )
            out[f"{d}.attn.out_proj.{part}"] = state[f"{s}.self_attn.out_proj.{part}"]
            out[f"{d}.ln_1.{part}"] = state[f"{s}.layer_norm1.{part}"]
            out[f"{d}.ln_2.{part}"] = state[f"{s}.layer_norm2.{part}"]
            out[f"{d}.mlp.c_fc.{part}"] = state[f"{s}.mlp.fc1.{part}"]
            out[f"{d}.mlp.c_proj.{part}"] = state[f"{s}.mlp.fc2.{part}"]
    return out


def convert_hf_clip_state_dict(state: dict[str, torch.Tensor], config: Any) -> dict[str, torch.Tensor]:
    """transformers ``CLIPModel`` weights renamed and reshaped into open_clip ``CLIP``'s state dict."""
    state = {k.removeprefix("clip."): v for k, v in state.items()}
    t, v = "text_model", "vision_model"
    out = {
        "token_embedding.weight": state[f"{t}.embeddings.token_embedding.weight"],
        "positional_embedding": state[f"{t}.embeddings.position_embedding.weight"],
        "ln_final.weight": state[f"{t}.final_layer_norm.weight"],
        "ln_final.bias": state[f"{t}.final_layer_norm.bias"],
        "text_projection": state["text_projection.weight"].t().contiguous(),
        "logit_scale": state["logit_scale"].reshape(()),
        "visual.class_embedding": state[f"{v}.embeddings.class_embedding"],
        "visual.conv1.weight": state[f"{v}.embeddings.patch_embedding.weight"],
        "visual.positional_embedding": state[f"{v}.embeddings.position_embedding.weight"],
        "visual.ln_pre.weight": state[f"{v}.pre_layrnorm.weight"],
        "visual.ln_pre.bias": state[f"{v}.pre_layrnorm.bias"],
        "visual.ln_post.weight": state[f"{v}.post_layernorm.weight"],
        "visual.ln_post.bias": state[f"{v}.post_layernorm.bias"],
        "visual.proj": state["visual_projection.weight"].t().contiguous(),
    }
    out.update(_convert_layers(state, t, "transformer", config.text_config.num_hidden_layers))
    out.update(_convert_layers(state, v, "visual.transformer", config.vision_config.num_hidden_layers))
    return out


def hf_image_preprocess(folder: Path, image_size: int) -> dict[str, Any]:
    """A transformers ``preprocessor_config.json`` as open_clip's ``preprocess_cfg``; what open_clip's transform
    cannot reproduce (a resize larger than the crop, other resampling) is refused rather than approximated."""
    path = folder / HF_PREPROCESSOR
    if not path.is_file():
        path = folder / HF_PROCESSOR
    if not path.is_file():
        raise InputError(f"no {HF_PREPROCESSOR}: the checkpoint's preprocessing is unknown", folder)
    cfg = json.loads(path.read_text())
    # newer transformers may nest the image processor's settings
    cfg = cfg.get("image_processor", cfg)
    resample = int(cfg.get("resample", 3))
    if resample not in _RESAMPLE:
        raise InputError(f"{HF_PREPROCESSOR}: resample {resample} is neither bilinear (2) nor bicubic (3)", folder)
    size, crop = cfg.get("size", image_size), cfg.get("crop_size", image_size)
    if cfg.get("do_center_crop", True):
        short = size.get("shortest_edge", image_size) if isinstance(size, dict) else int(size)
        crop_hw = (crop.get("height"), crop.get("width")) if isinstance(crop, dict) else (int(crop), int(crop))
        if not short == crop_hw[0] == crop_hw[1] == image_size:
            raise InputError(
                f"{HF_PREPROCESSOR}: resize to {short} then crop {crop_hw} for a {image_size} px model: only a "
                "shortest-side resize to the crop size is supported",
                folder,
            )
        mode = "shortest"
    else:
        hw = (size.get("height"), size.get("width")) if isinstance(size, dict) else (int(size), int(size))
        if hw != (image_size, image_size):
            raise InputError(f"{HF_PREPROCESSOR}: resize to {hw} for a {image_size} px model", folder)
        mode = "squash"
    return {
        **default_preprocess(image_size),
        "mean": tuple(float(x) for x in cfg.get("image_mean", PreprocessCfg.mean)),
        "std": tuple(float(x) for x in cfg.get("image_std", PreprocessCfg.std)),
        "interpolation": _RESAMPLE[resample],
        "resize_mode": mode,
    }


# open_clip's SimpleTokenizer names OpenAI's two special tokens differently from the transformers CLIP tokenizer.
_SPECIAL = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}


def _open_clip_bpe() -> tuple[dict[str, int], list[str]]:
    """OpenAI's CLIP BPE as open_clip ships it, in the transformers tokenizer's terms (vocabulary, merges)."""
    tok = open_clip.tokenizer.SimpleTokenizer()
    merges = [" ".join(pair) for pair, _ in sorted(tok.bpe_ranks.items(), key=lambda item: item[1])]
    return {_SPECIAL.get(k, k): v for k, v in tok.encoder.items()}, merges


def _hf_bpe(folder: Path) -> tuple[dict[str, int], list[str]] | None:
    """A transformers BPE tokenizer's vocabulary and merges: ``tokenizer.json`` or ``vocab.json`` + ``merges.txt``."""
    if (folder / "tokenizer.json").is_file():
        model = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8")).get("model", {})
        if model.get("type") != "BPE":
            return None
        merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
        return model.get("vocab", {}), merges
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    if not (vocab.is_file() and merges.is_file()):
        return None
    lines = [ln for ln in merges.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#version")]
    return json.loads(vocab.read_text(encoding="utf-8")), lines


def uses_open_clip_tokenizer(folder: Path) -> bool:
    """Whether a transformers CLIP tokenizer is OpenAI's BPE, i.e. exactly open_clip's ``SimpleTokenizer``."""
    return _hf_bpe(folder) == _open_clip_bpe()


def write_open_clip_bpe_tokenizer_files(folder: str | Path) -> Path:
    """``vocab.json`` + ``merges.txt`` of OpenAI's CLIP BPE, from the vocabulary open_clip ships (for building a
    transformers ``CLIPTokenizer`` offline)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    encoder, merges = _open_clip_bpe()
    (folder / "vocab.json").write_text(json.dumps(encoder), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return folder


# Why a transformers SiglipModel folder is refused rather than converted. open_clip builds its SigLIP image tower as a
# timm ViT chosen by name only (``vision_cfg.timm_model_name``; open_clip's TimmModel passes timm no width, depth or
# heads), so the converted model could only be one of timm's named SigLIP ViTs and the import would have to map
# transformers' dimensions onto a name, its MAP head onto timm's ``attn_pool`` and its text tower onto open_clip's
# (no causal mask, last-token pooling, biased projection, LayerNorm eps 1e-6, tanh-GELU); no such converter exists in
# open_clip or timm to check one against, and a guessed mapping would load without error and embed wrongly.
SIGLIP_REFUSAL = (
    "transformers SiglipModel folders are not converted: open_clip builds a SigLIP image tower only as one of timm's "
    "named ViTs (timm_model_name, no custom width/depth/heads) and neither open_clip nor timm ships a converter from "
    "transformers' SigLIP layout to verify one against; import the model's open_clip release instead (an hf-hub: "
    "repo with open_clip_config.json, as timm/ViT-B-16-SigLIP or Marqo/marqo-fashionSigLIP publish)"
)


def read_transformers_folder(folder: str | Path) -> Checkpoint:
    """A transformers ``save_pretrained`` folder of a ``CLIPModel`` with its processor files, converted
    (a ``SiglipModel`` is refused: see ``SIGLIP_REFUSAL``)."""
    from transformers import AutoConfig

    folder = Path(folder)
    if not (folder / HF_CONFIG).is_file():
        raise InputError(f"not a transformers model folder (no {HF_CONFIG})", folder)
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    if config.model_type == "siglip":
        raise InputError(SIGLIP_REFUSAL, folder)
    if config.model_type != "clip":
        raise InputError(f"model_type {config.model_type!r} is not a CLIPModel", folder)
    weights = _weights_in(folder, HF_WEIGHTS)
    model_cfg = hf_clip_model_cfg(config)
    state = convert_hf_clip_state_dict(read_state_dict(weights), config)
    preprocess = hf_image_preprocess(folder, model_cfg["vision_cfg"]["image_size"])
    text_dir = None
    if not uses_open_clip_tokenizer(folder):
        text_dir = folder
        model_cfg["text_cfg"]["hf_tokenizer_name"] = str(folder)
    processor = folder / HF_PREPROCESSOR if (folder / HF_PREPROCESSOR).is_file() else folder / HF_PROCESSOR
    files = [folder / HF_CONFIG, processor, weights]
    return Checkpoint(FORMAT_TRANSFORMERS, model_cfg, state, preprocess, files, text_dir)


def read_folder(folder: str | Path) -> Checkpoint:
    """An open_clip or a transformers folder, by the config file it holds."""
    folder = Path(folder)
    if (folder / OPEN_CLIP_CONFIG).is_file():
        return read_open_clip_folder(folder)
    if (folder / HF_CONFIG).is_file():
        return read_transformers_folder(folder)
    raise InputError(f"holds neither {OPEN_CLIP_CONFIG} (open_clip) nor {HF_CONFIG} (transformers)", folder)
