"""Checkpoints are read memory-mapped and loaded without a second copy (``build_model(empty=True)`` + ``assign``), and
give exactly the tensors, models and registered files of a full read + copying load: each published format (open_clip
``.bin`` / ``.safetensors``, a bare state dict in a ``state_dict`` wrapper with ``module.`` prefixes, a legacy torch
file, a transformers folder), an fp16 checkpoint, tied weights."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
import torch
from clipzoo.core.checkpoints import convert_hf_clip_state_dict, fit_state_dict, read_state_dict
from clipzoo.core.errors import InputError
from clipzoo.core.model import assign_state_dict, build_model, load_weights, save_weights
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from tests.helpers.hub import tiny_open_clip


def _full_read(path: Path) -> dict[str, torch.Tensor]:
    """The file read into memory whole, as before."""
    if path.suffix == ".safetensors":
        return load_safetensors_bytes(path.read_bytes())
    return torch.load(path, map_location="cpu", weights_only=True)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


def _mapped_from(tensor: torch.Tensor, path: Path) -> bool:
    """Whether the tensor's memory is a mapping of ``path`` (Linux's /proc/self/maps)."""
    ptr, target = tensor.data_ptr(), os.path.realpath(path)
    with open("/proc/self/maps") as fh:
        for line in fh:
            span, *rest = line.split()
            start, end = (int(x, 16) for x in span.split("-"))
            if start <= ptr < end:
                return bool(rest) and rest[-1] == target
    return False


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")


@linux_only
@pytest.mark.parametrize("name", ["open_clip_pytorch_model.bin", "open_clip_model.safetensors"])
def test_open_clip_weights_are_memory_mapped_and_equal_a_full_read(tmp_path, name):
    state = tiny_open_clip(0).state_dict()
    path = tmp_path / name
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    streamed = read_state_dict(path)
    _same(streamed, _full_read(path))
    _same(streamed, state)
    assert all(_mapped_from(v, path) for v in streamed.values() if v.numel())


@linux_only
def test_a_bare_state_dict_with_a_wrapper_and_module_prefixes_is_memory_mapped(tmp_path):
    state = tiny_open_clip(1).state_dict()
    path = tmp_path / "RemoteCLIP-tiny.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    streamed = read_state_dict(path)
    _same(streamed, state)
    assert all(_mapped_from(v, path) for v in streamed.values() if v.numel())


def test_a_legacy_torch_file_is_read_whole(tmp_path):
    state = tiny_open_clip(2).state_dict()
    path = tmp_path / "legacy.pt"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    _same(read_state_dict(path), state)


@pytest.mark.parametrize("safe", [True, False])
def test_a_transformers_folder_converts_from_the_mapped_file_as_from_a_full_read(tmp_path, safe):
    from clipzoo.core.checkpoints import read_transformers_folder
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"vocab_size": 49408, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 16},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )  # fmt: skip
    folder = tmp_path / "hf-clip"
    CLIPModel(config).save_pretrained(folder)
    if not safe:  # the older layout (transformers 5 writes safetensors only)
        torch.save(_full_read(folder / "model.safetensors"), folder / "pytorch_model.bin")
        (folder / "model.safetensors").unlink()
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    weights = folder / ("model.safetensors" if safe else "pytorch_model.bin")
    ckpt = read_transformers_folder(folder)
    _same(ckpt.state_dict, convert_hf_clip_state_dict(_full_read(weights), config))


def _copy_loaded(spec, state):
    """The model as it was loaded before: built with random weights, the checkpoint copied in."""
    model = build_model(spec, load_text_weights=False).model
    model.load_state_dict(fit_state_dict(model, state), strict=True)
    return model


def _old_save(model: torch.nn.Module, path: Path) -> bytes:
    save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}, str(path))
    return path.read_bytes()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_an_empty_model_takes_the_mapped_tensors_and_registers_the_same_bytes(tiny_spec, tmp_path, dtype):
    source = tiny_open_clip(4)
    path = tmp_path / "w.pt"
    torch.save({k: v.to(dtype) if v.is_floating_point() else v for k, v in source.state_dict().items()}, path)

    empty = build_model(tiny_spec, empty=True).model
    assert all(p.is_meta for p in empty.parameters()) and not any(b.is_meta for b in empty.buffers())
    assign_state_dict(empty, fit_state_dict(empty, read_state_dict(path)))
    copied = _copy_loaded(tiny_spec, _full_read(path))
    _same(empty.state_dict(), copied.state_dict())
    assert all(p.dtype == torch.float32 for p in empty.parameters())  # an fp16 checkpoint is cast, as copy_ does
    assert save_weights(empty, tmp_path / "new.safetensors").read_bytes() == _old_save(copied, tmp_path / "old.st")

    pixels, tokens = torch.rand(2, 3, 32, 32), torch.randint(0, 1000, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(empty.encode_image(pixels), copied.encode_image(pixels), atol=0, rtol=0)
        torch.testing.assert_close(empty.encode_text(tokens), copied.encode_text(tokens), atol=0, rtol=0)


def test_an_empty_model_keeps_its_locks_and_refuses_missing_weights(tiny_spec, tmp_path):
    locked = tiny_spec.replace(lock_image=True)
    path = save_weights(build_model(locked).model, tmp_path / "w.safetensors")
    model = build_model(locked, empty=True).model
    load_weights(model, path, assign=True)
    assert not any(p.requires_grad for p in model.visual.parameters())
    assert all(p.requires_grad for p in model.transformer.parameters())
    with torch.no_grad():  # a write to a memory-mapped weight is the process's own: the file never changes
        model.logit_scale.add_(1.0)
    assert load_safetensors_bytes(path.read_bytes())["logit_scale"] != model.logit_scale

    partial = build_model(tiny_spec, empty=True).model
    with pytest.raises(InputError, match="unset"):
        assign_state_dict(partial, {"logit_scale": torch.tensor(1.0)}, strict=False)
    save_file({"logit_scale": torch.tensor(1.0)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(RuntimeError, match="Missing key"):
        load_weights(build_model(tiny_spec, empty=True).model, tmp_path / "partial.safetensors", assign=True)


def test_tied_weights_are_saved_as_before(tmp_path):
    class Tied(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(4, 4)
            self.b = torch.nn.Linear(4, 4)
            self.b.weight = self.a.weight
            self.register_buffer("strided", torch.arange(16.0).reshape(4, 4).t())

    model = Tied()
    new = save_weights(model, tmp_path / "new.safetensors").read_bytes()
    assert new == _old_save(model, tmp_path / "old.safetensors")
    assert load_safetensors_bytes(io.BytesIO(new).read())["b.weight"].equal(model.a.weight.detach())
