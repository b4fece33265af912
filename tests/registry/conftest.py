"""One served image model for every serving test of this folder (a server takes a while to start)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.serving import served

MAX_BODY_MB = 8
MAX_ROWS = 8


@pytest.fixture(scope="session")
def image_server(registered_image_model, image_demo):
    """``clipzoo serve`` on the registered tiny model, reading files only under the demo data's folder."""
    root = Path(image_demo.heldout).parent
    options = ["--data-root", str(root), "--max-body-mb", str(MAX_BODY_MB), "--max-rows", str(MAX_ROWS)]
    with served(f"clipzoo-image/{registered_image_model.published.version}", "serve.log", *options) as url:
        yield url
