"""Small file helpers every domain needs: input files checked before decoding, images decoded with a clear error,
package JSON resources, CSV tables of published layouts read and written (atomically), and demo datasets written once
(a marker records the arguments they were written with)."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from .errors import InputError
from .guards import check_pixels

if TYPE_CHECKING:
    import pandas as pd

DONE_MARKER = "DONE.json"


def require_file(path: str | Path) -> Path:
    """``path`` as a Path, or ``InputError`` when it is missing, not a file, or empty."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path)
    return path


def open_image(path: str | Path) -> Image.Image:
    """Decode an image file fully (in its own mode), or raise ``InputError`` naming the file and what is wrong.

    The size its header declares is checked against the request's pixel budget (``guards``) before decoding."""
    path = require_file(path)
    try:
        with Image.open(path) as img:
            check_pixels(*img.size, name=str(path))
            img.load()  # decoded into memory: the image outlives the closed file
        return img
    except UnidentifiedImageError as err:
        raise InputError("not a decodable image (unknown or corrupt format)", path) from err
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"corrupt image: {err}", path) from err


def package_json(package: str, name: str) -> Any:
    """A JSON file shipped inside a package (prompt packs, finding lists...)."""
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def demo_is_current(root: str | Path, args: dict[str, Any], outputs: list[Path]) -> bool:
    """Whether ``root`` holds a complete demo dataset written with exactly ``args`` (then nothing needs writing).

    When not, the stale marker is removed, so an interrupted rewrite is never taken for a complete one.
    """
    done = Path(root) / DONE_MARKER
    try:
        if json.loads(done.read_text()) == args and all(p.is_file() for p in outputs):
            return True
    except (OSError, ValueError):
        pass
    done.unlink(missing_ok=True)
    return False


def mark_demo_complete(root: str | Path, args: dict[str, Any]) -> None:
    """Record, atomically, that ``root`` now holds the demo dataset written with ``args``."""
    tmp = Path(root) / f".{DONE_MARKER}.tmp"
    tmp.write_text(json.dumps(args, indent=2) + "\n")
    os.replace(tmp, Path(root) / DONE_MARKER)


def read_named_entries(path: str | Path, what: str) -> list[dict[str, Any]]:
    """A JSON list of objects with unique ``name`` keys (a domain's ``zoo.json``, ``benchmarks.json``), in order."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err}", path) from err
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"expected a JSON list of {what} objects", path)
    names = [r.get("name") for r in rows]
    if len(set(names)) != len(names):
        raise InputError(f"duplicate {what} names {sorted(str(n) for n in set(names) if names.count(n) > 1)}", path)
    return rows


def check_keys(cls: type, data: dict[str, Any], what: str) -> None:
    """Refuse keys that are not fields of the dataclass ``cls`` (a typo in a JSON entry), naming ``what``."""
    from dataclasses import fields

    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise InputError(f"{what} {data.get('name')!r}: unknown keys {unknown}")


def read_table(path: str | Path, what: str, **kwargs: Any) -> pd.DataFrame:
    """A CSV file of a published layout as a table (``pandas.read_csv`` ``kwargs``), or ``InputError`` naming the
    file when it is missing or cannot be parsed; ``what`` says which file of the layout it is."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found", path)
    try:
        return pd.read_csv(path, **kwargs)
    except Exception as err:
        raise InputError(f"cannot parse the {what}: {err}", path) from err


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to the CSV ``path`` atomically (a temporary file beside it, then renamed); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path
