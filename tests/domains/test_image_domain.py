"""The image domain's reader: RGB out, every bad file named with what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from clipzoo.core.domain import available_domains, get_domain
from clipzoo.core.errors import InputError
from PIL import Image


def test_domain_is_discovered_through_entry_points():
    assert "image" in available_domains()
    domain = get_domain("image")
    assert domain.name == "image" and domain.default_spec().domain == "image"


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_any_pil_mode_reads_as_an_8_bit_picture_the_transform_makes_rgb(mode, tmp_path):
    """The read keeps the picture's own mode (open_clip resizes it so, then converts to RGB); 16 bits become 8."""
    path = tmp_path / f"x-{mode}.png" if mode != "CMYK" else tmp_path / "x.jpg"
    picture = Image.fromarray(np.full((10, 12, 3), 200, np.uint8)).convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        picture = Image.fromarray(np.arange(120, dtype=np.uint16).reshape(10, 12) * 500)
    picture.save(path)
    domain = get_domain("image")
    img = domain.read(path)
    assert img.size == (12, 10) and img.mode == ("L" if mode == "I;16" else mode)
    spec = domain.default_spec()
    assert domain.transform(spec, train=False)(img).shape == (3, spec.image_size, spec.image_size)


def test_bad_files_are_named(tmp_path):
    domain = get_domain("image")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(InputError, match=r"missing\.png: file not found"):
        domain.read(tmp_path / "missing.png")
    with pytest.raises(InputError, match=r"empty\.png: file is empty"):
        domain.read(tmp_path / "empty.png")
    with pytest.raises(InputError, match=r"text\.png: not a decodable image"):
        domain.read(tmp_path / "text.png")
    truncated = tmp_path / "truncated.png"
    Image.new("RGB", (64, 64), "red").save(tmp_path / "ok.png")
    truncated.write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    with pytest.raises(InputError, match=r"truncated\.png"):
        domain.read(truncated)
