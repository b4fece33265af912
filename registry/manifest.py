"""The manifest of a model's artifact: the sha256 of every file in it, recorded on the registry version.

``checksums.json`` travels inside the artifact, so whoever can rewrite the weights can rewrite it too. The manifest is
kept in the registry (a model-version tag written in the same call that creates the version), which is what clipzoo
trusts: a download whose files differ from it in any way (a changed, added or missing file, the models-from-code
``pyfunc_model.py`` included) is refused before anything in it is loaded or run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from clipzoo.core.errors import ChecksumError

from .package import sha256_file

# Written by MLflow's own download of a ``models:/`` URI, on the downloading side; never part of what is stored.
REGISTERED_MODEL_META = "registered_model_meta"
MANIFEST_TAG = "clipzoo.manifest"
MANIFEST_SHA_TAG = "clipzoo.manifest_sha256"


def artifact_manifest(folder: str | Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` (symlinks refused: they could point anywhere)."""
    folder = Path(folder)
    manifest = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise ChecksumError(f"{path.relative_to(folder)}: a symbolic link in a model artifact is refused")
        if path.is_file() and path.relative_to(folder).as_posix() != REGISTERED_MODEL_META:
            manifest[path.relative_to(folder).as_posix()] = sha256_file(path)
    return manifest


def manifest_digest(manifest: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def manifest_tags(folder: str | Path) -> dict[str, str]:
    """The version tags that pin an artifact's files."""
    manifest = artifact_manifest(folder)
    return {MANIFEST_TAG: json.dumps(manifest, sort_keys=True), MANIFEST_SHA_TAG: manifest_digest(manifest)}


def verify_manifest(folder: str | Path, tags: dict[str, str], what: str) -> None:
    """Compare every file under ``folder`` with the manifest in ``tags``; raise ``ChecksumError`` (one line) naming
    each file that differs, is missing or was added. ``what`` names the model in the message."""
    if MANIFEST_TAG not in tags or MANIFEST_SHA_TAG not in tags:
        raise ChecksumError(f"{what}: the registry records no manifest for it; refusing to load unverified files")
    expected = json.loads(tags[MANIFEST_TAG])
    if manifest_digest(expected) != tags[MANIFEST_SHA_TAG]:
        raise ChecksumError(f"{what}: its registry manifest does not match its own digest")
    actual = artifact_manifest(folder)
    changed = [n for n in sorted(set(expected) & set(actual)) if actual[n] != expected[n]]
    missing = sorted(set(expected) - set(actual))
    added = sorted(set(actual) - set(expected))
    problems = [f"{n} differs from the registered file" for n in changed]
    problems += [f"{n} is missing" for n in missing] + [f"{n} was added" for n in added]
    if problems:
        raise ChecksumError(f"{what}: refused: " + "; ".join(problems))
