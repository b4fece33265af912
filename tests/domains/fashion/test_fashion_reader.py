"""The fashion reader and targetpad: JPEG/PNG/WebP to RGB, transparent cut-outs on white, garments never cropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from clipzoo.core.domain import get_domain
from clipzoo.core.errors import InputError
from clipzoo.domains.fashion.images import TargetPad
from PIL import Image


@pytest.mark.parametrize("suffix", ["jpg", "png", "webp"])
def test_product_formats_read_as_rgb(suffix, tmp_path):
    path = tmp_path / f"p.{suffix}"
    Image.fromarray(np.full((30, 20, 3), (200, 30, 40), np.uint8)).save(path)
    img = get_domain("fashion").read(path)
    assert img.mode == "RGB" and img.size == (20, 30)
    assert np.abs(np.asarray(img, dtype=float).mean(axis=(0, 1)) - (200, 30, 40)).max() < 8


def test_transparent_cutout_goes_on_white(tmp_path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[2:8, 2:8] = (0, 0, 255, 255)  # opaque blue square, the rest fully transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "cut.png")
    img = np.asarray(get_domain("fashion").read(tmp_path / "cut.png"))
    assert tuple(img[0, 0]) == (255, 255, 255) and tuple(img[5, 5]) == (0, 0, 255)


def test_bad_files_are_named(tmp_path):
    domain = get_domain("fashion")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.webp").write_text("not an image")
    Image.new("RGB", (64, 64), "red").save(tmp_path / "ok.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "ok.jpg").read_bytes()[:200])
    with pytest.raises(InputError, match=r"missing\.png: file not found"):
        domain.read(tmp_path / "missing.png")
    with pytest.raises(InputError, match=r"empty\.jpg: file is empty"):
        domain.read(tmp_path / "empty.jpg")
    with pytest.raises(InputError, match=r"notes\.webp: not a decodable image"):
        domain.read(tmp_path / "notes.webp")
    with pytest.raises(InputError, match=r"cut\.jpg"):
        domain.read(tmp_path / "cut.jpg")


def test_targetpad_pads_to_square_without_cropping_the_garment():
    tall = Image.new("RGB", (20, 60), (200, 30, 40))  # a red dress filling a tall frame
    padded = TargetPad(1.0)(tall)
    assert padded.size == (60, 60)
    px = np.asarray(padded)
    assert tuple(px[30, 0]) == (255, 255, 255) and tuple(px[30, 30]) == (200, 30, 40)
    assert (px[:, 20:40] == (200, 30, 40)).all(), "every garment pixel survives"
    assert TargetPad(1.25)(Image.new("RGB", (50, 60))).size == (50, 60), "within the ratio: untouched"
    assert TargetPad(1.25)(Image.new("RGB", (20, 60))).size == (48, 60)


def test_eval_transform_keeps_the_whole_garment_in_frame():
    domain = get_domain("fashion")
    spec = domain.default_spec()
    tall = np.full((120, 40, 3), 255, np.uint8)
    tall[:, :, :] = (200, 30, 40)
    x = domain.transform(spec, train=False)(Image.fromarray(tall))
    assert x.shape == (3, spec.image_size, spec.image_size)
    mean, std = torch.tensor(spec.mean)[:, None, None], torch.tensor(spec.std)[:, None, None]
    rgb = ((x * std + mean) * 255).round()
    red = (rgb[0] > 150) & (rgb[1] < 80)
    assert red[0].any() and red[-1].any(), "top and bottom of the garment are kept (a centre crop would cut them)"
    assert not red[:, :8].any() and not red[:, -8:].any(), "the sides are white padding"
    assert domain.transform(spec, train=True)(Image.fromarray(tall)).shape == x.shape
