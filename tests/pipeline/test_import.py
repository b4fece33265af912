"""Importing published checkpoints (no training): each published layout, written by the real libraries with tiny
random weights, is imported, registered, loaded back, and embeds exactly as the source library does; its own
preprocessing is kept. Offline: the Hugging Face cache is a temporary folder in the real cache layout."""

from __future__ import annotations

import json

import numpy as np
import open_clip
import torch
from clipzoo.core.checkpoints import read_state_dict, write_open_clip_bpe_tokenizer_files
from clipzoo.core.domain import get_domain
from clipzoo.core.model import build_model
from clipzoo.core.spec import ModelSpec
from clipzoo.pipeline.importer import import_model
from clipzoo.registry.loading import load_clip
from PIL import Image
from safetensors.torch import save_file

from tests.conftest import TINY_OPEN_CLIP_CFG
from tests.helpers.hub import PREPROCESS, hub_cache, snapshot, tiny_open_clip, write_open_clip_repo

__all__ = ["hub_cache"]  # a fixture

TEXTS = ["a red star on a striped background", "a small blue ring", "tissue"]


def photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


IMAGES = [photo(60, 40, 0), photo(40, 60, 1)]


def ours(clip, images=IMAGES, texts=TEXTS):
    """The registered model's pixels and embeddings, through its domain's eval transform and tokenizer."""
    transform = get_domain(clip.spec.domain).transform(clip.spec, train=False)
    pixels = torch.stack([transform(im) for im in images])
    with torch.no_grad():
        return pixels, clip.model.encode_image(pixels), clip.model.encode_text(clip.tokenize(texts))


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_open_clip_hub_checkpoint_keeps_its_preprocessing_and_embeds_as_open_clip(hub_cache):
    snap = write_open_clip_repo(hub_cache, "clipzoo-test/tiny-oc")
    result = import_model(get_domain("image"), "hf-hub:clipzoo-test/tiny-oc", line="tiny-oc")
    assert result.published.name == "clipzoo-image-tiny-oc" and result.published.champion
    assert result.source["revision"] == snap.name and "open_clip_model.safetensors" in result.source["files"]

    clip = load_clip("tiny-oc")  # the line name alone
    spec = clip.spec
    assert (spec.mean, spec.std) == (tuple(PREPROCESS["mean"]), tuple(PREPROCESS["std"]))
    assert (spec.interpolation, spec.resize_mode, spec.image_size) == ("bilinear", "squash", 32)
    assert spec.model_cfg == TINY_OPEN_CLIP_CFG

    ref, _, preprocess = open_clip.create_model_and_transforms("hf-hub:clipzoo-test/tiny-oc")
    tokenizer = open_clip.get_tokenizer("hf-hub:clipzoo-test/tiny-oc")
    ref.eval()
    pixels, image, text = ours(clip)
    ref_pixels = torch.stack([preprocess(im) for im in IMAGES])
    torch.testing.assert_close(pixels, ref_pixels, atol=0, rtol=0)
    with torch.no_grad():
        close(image, ref.encode_image(ref_pixels))
        close(text, ref.encode_text(tokenizer(TEXTS)))


def test_open_clip_state_dict_with_wrappers_and_module_prefixes(tmp_path, image_demo):
    """A RemoteCLIP-style bare .pt: {"state_dict": {"module.<key>": ...}} for a named open_clip architecture."""
    arch = tmp_path / "clipzoo-tiny-arch.json"
    arch.write_text(json.dumps(TINY_OPEN_CLIP_CFG))
    source = tiny_open_clip(3)
    pt = tmp_path / "RemoteCLIP-tiny.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 3}, pt)
    assert set(read_state_dict(pt)) == set(source.state_dict())

    result = import_model(get_domain("image"), str(arch), line="tiny-pt", weights=str(pt), heldout=image_demo.heldout)
    assert result.published.name == "clipzoo-image-tiny-pt" and result.published.primary_value is not None
    assert "shape_top1" in result.metrics
    clip = load_clip("image-tiny-pt")

    open_clip.add_model_config(arch)
    ref, _, preprocess = open_clip.create_model_and_transforms("clipzoo-tiny-arch", pretrained=str(pt))
    ref.eval()
    pixels, image, text = ours(clip)
    ref_pixels = torch.stack([preprocess(im) for im in IMAGES])
    torch.testing.assert_close(pixels, ref_pixels, atol=0, rtol=0)
    with torch.no_grad():
        close(image, ref.encode_image(ref_pixels))
        close(text, ref.encode_text(open_clip.get_tokenizer("clipzoo-tiny-arch")(TEXTS)))


def _features(output):
    """transformers 5 returns model outputs from get_*_features, earlier versions the tensor."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def test_transformers_clip_folder_is_converted_and_embeds_as_transformers(tmp_path):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    model = CLIPModel(config).eval()
    folder = tmp_path / "hf-clip"
    model.save_pretrained(folder)
    bpe = write_open_clip_bpe_tokenizer_files(tmp_path / "bpe")
    tokenizer = CLIPTokenizer.from_pretrained(bpe, model_max_length=16)
    images = CLIPImageProcessor(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
        image_mean=[0.4, 0.5, 0.6],
        image_std=[0.2, 0.3, 0.25],
        resample=2,
    )
    processor = CLIPProcessor(image_processor=images, tokenizer=tokenizer)
    processor.save_pretrained(folder)

    result = import_model(get_domain("image"), str(folder), line="tiny-hf")
    assert result.source["format"] == "transformers"
    clip = load_clip("tiny-hf")
    assert (clip.spec.mean, clip.spec.std) == ((0.4, 0.5, 0.6), (0.2, 0.3, 0.25))
    assert (clip.spec.interpolation, clip.spec.resize_mode, clip.spec.image_size) == ("bilinear", "shortest", 32)

    pixels, image, text = ours(clip)
    ref_pixels = processor(images=IMAGES, return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(pixels, ref_pixels, atol=2e-2, rtol=0)  # PIL vs transformers' own resize
    tokens = processor(text=TEXTS, padding="max_length", max_length=16, return_tensors="pt")
    with torch.no_grad():
        close(image, _features(model.get_image_features(pixel_values=pixels)))
        close(text, _features(model.get_text_features(**tokens)))


def test_an_hf_text_tower_travels_in_the_package_and_loads_without_the_hub(hub_cache, tmp_path, monkeypatch):
    """A BiomedCLIP-style repo: open_clip vision + a Hugging Face BERT text tower named by Hub id. The BERT's config
    and tokenizer are packaged with the registered model, which then rebuilds with the Hub cache gone."""
    from transformers import BertConfig

    bert = snapshot(hub_cache, "clipzoo-test/tiny-bert")
    BertConfig(
        vocab_size=40, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    ).save_pretrained(bert)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "star", "on", "small", "blue", "ring", "tissue"]
    (bert / "vocab.txt").write_text("\n".join(words) + "\n")
    (bert / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True}))
    text_cfg = {
        "hf_model_name": "clipzoo-test/tiny-bert",
        "hf_tokenizer_name": "clipzoo-test/tiny-bert",
        "hf_proj_type": "linear",
        "hf_pooler_type": "cls_pooler",
        "context_length": 16,
    }
    model_cfg = {"embed_dim": 32, "vision_cfg": TINY_OPEN_CLIP_CFG["vision_cfg"], "text_cfg": text_cfg}
    torch.manual_seed(9)
    spec = ModelSpec(name="bert-src", domain="image", model_cfg=model_cfg, image_size=32)
    source = build_model(spec, load_text_weights=False)  # random BERT: the CLIP checkpoint holds its weights
    snap = snapshot(hub_cache, "clipzoo-test/tiny-biomed")
    (snap / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg, "preprocess_cfg": PREPROCESS}))
    save_file(
        {k: v.contiguous() for k, v in source.model.state_dict().items()}, str(snap / "open_clip_model.safetensors")
    )

    import_model(get_domain("image"), "hf-hub:clipzoo-test/tiny-biomed", line="tiny-biomed")
    (hub_cache / "models--clipzoo-test--tiny-bert").rename(tmp_path / "gone")  # no Hub copy of the text tower left
    clip = load_clip("tiny-biomed")
    assert clip.spec.model_cfg["text_cfg"]["hf_model_name"] == "clipzoo-test/tiny-bert"  # the record is kept
    _, image, text = ours(clip)
    source.model.eval()
    with torch.no_grad():
        close(text, source.model.encode_text(source.tokenize(TEXTS)))
        close(image, source.model.encode_image(ours(clip)[0]))


def test_a_transformers_siglip_folder_is_refused_with_the_reason(tmp_path, capsys):
    """A real (tiny) SiglipModel.save_pretrained folder: refused by name, exit 2, saying why and what to use."""
    from transformers import SiglipConfig, SiglipModel

    from tests.cli.test_cli import clipzoo_inprocess

    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = SiglipConfig(
        text_config={**small, "vocab_size": 64, "max_position_embeddings": 16},
        vision_config={**small, "image_size": 32, "patch_size": 8},
    )
    folder = tmp_path / "hf-siglip"
    SiglipModel(config).save_pretrained(folder)
    proc = clipzoo_inprocess(capsys, "import", str(folder), "--domain", "fashion", "--name", "tiny-siglip")
    assert proc.returncode == 2
    assert f"{folder}: transformers SiglipModel folders are not converted" in proc.stderr
    assert "timm_model_name" in proc.stderr and "open_clip_config.json" in proc.stderr
