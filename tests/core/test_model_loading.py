"""Pretrained weights load offline from a file, a local-dir: folder, or an hf-hub: id already cached; towers lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from clipzoo.core.errors import InputError
from clipzoo.core.model import build_model, load_weights, save_weights
from clipzoo.core.text import resolve_hf_model_name
from safetensors.torch import save_file


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_pretrained_from_a_safetensors_file(tiny_spec, tmp_path):
    torch.manual_seed(1)
    source = build_model(tiny_spec).model
    path = save_weights(source, tmp_path / "w.safetensors")
    torch.manual_seed(2)
    assert not _same_weights(build_model(tiny_spec).model, source)
    assert _same_weights(build_model(tiny_spec.replace(pretrained=str(path))).model, source)


def test_pretrained_from_a_torch_file_is_read_weights_only(tiny_spec, tmp_path):
    source = build_model(tiny_spec).model
    torch.save({"state_dict": source.state_dict(), "note": "plain"}, tmp_path / "ckpt.pt")
    loaded = build_model(tiny_spec.replace(pretrained=str(tmp_path / "ckpt.pt"))).model
    assert _same_weights(loaded, source)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"state_dict": source.state_dict(), "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match=r"(?i)weights.only|unsupported|global"):
        load_weights(build_model(tiny_spec).model, tmp_path / "evil.pt")


def _open_clip_folder(folder: Path, spec, model) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"model_cfg": spec.model_cfg, "preprocess_cfg": {"size": spec.image_size}}
    (folder / "open_clip_config.json").write_text(json.dumps(cfg))
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(folder / "open_clip_model.safetensors"),
    )
    return folder


def test_pretrained_from_local_dir(tiny_spec, tmp_path):
    source = build_model(tiny_spec).model
    folder = _open_clip_folder(tmp_path / "oc", tiny_spec, source)
    assert _same_weights(build_model(tiny_spec.replace(pretrained=f"local-dir:{folder}")).model, source)


def test_pretrained_from_hf_hub_cache_offline(tiny_spec, tmp_path, monkeypatch):
    """A Hub repo already in the cache (the real huggingface_hub cache layout) loads with HF_HUB_OFFLINE=1."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    source = build_model(tiny_spec).model
    repo = tmp_path / "hub" / "models--clipzoo--tiny-test"
    revision = "0" * 40
    _open_clip_folder(repo / "snapshots" / revision, tiny_spec, source)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    loaded = build_model(tiny_spec.replace(pretrained="hf-hub:clipzoo/tiny-test")).model
    assert _same_weights(loaded, source)
    with pytest.raises(Exception, match=r"(?i)offline|cache|not found|couldn't"):
        build_model(tiny_spec.replace(pretrained="hf-hub:clipzoo/not-cached"))


def test_missing_weights_file_is_named(tiny_spec, tmp_path):
    with pytest.raises(InputError, match="pretrained weights file not found"):
        build_model(tiny_spec.replace(pretrained=str(tmp_path / "nope.safetensors")))


def test_bundled_text_tower_resolves_to_a_local_folder_and_uncached_ids_fail_offline(monkeypatch):
    folder = Path(resolve_hf_model_name("bundled:all-MiniLM-L6-v2"))
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="not in the Hugging Face cache"):
        resolve_hf_model_name("someone/definitely-not-cached-model")


def test_locking_freezes_the_right_parameters(tiny_spec, tiny_lit_spec):
    lit = build_model(tiny_lit_spec).model
    trainable = {n for n, p in lit.named_parameters() if p.requires_grad}
    assert not any(n.startswith("text.transformer") for n in trainable)
    assert "text.proj.weight" in trainable and any(n.startswith("visual.") for n in trainable)
    locked_image = build_model(tiny_spec.replace(lock_image=True)).model
    assert not any(p.requires_grad for p in locked_image.visual.parameters())


def test_hf_tokens_stop_at_the_longest_text_and_embed_the_same(tiny_lit_spec):
    clip = build_model(tiny_lit_spec)
    texts = ["a red star", "a small blue ring on a green background"]
    full = clip.tokenizer(texts)
    short = clip.tokenize(texts)
    assert full.shape[1] == tiny_lit_spec.context_length and short.shape[1] < full.shape[1]
    assert torch.equal(short, full[:, : short.shape[1]]) and (full[:, short.shape[1] :] == 0).all()
    model = clip.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(short), model.encode_text(full), atol=1e-5, rtol=1e-5)


def test_building_a_model_leaves_no_config_folder_behind(tmp_path):
    """open_clip learns the spec's config from a file that is gone once the model is built (no folder per process)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    code = (
        "from clipzoo.core.model import build_model; from clipzoo.core.spec import ModelSpec; "
        "from tests.conftest import TINY_OPEN_CLIP_CFG; "
        "build_model(ModelSpec(name='t', domain='image', model_cfg=TINY_OPEN_CLIP_CFG, image_size=32)); "
        "build_model(ModelSpec(name='t2', domain='image', model_cfg=TINY_OPEN_CLIP_CFG, image_size=32))"
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(scratch.iterdir()) == []
