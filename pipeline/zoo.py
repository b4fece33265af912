"""The zoo catalogue job: every domain's published checkpoints, whether each is here, and where to get it.

Nothing downloads: presence is read from the Hugging Face cache (``HF_HUB_CACHE``) or a user's folder, and a
missing checkpoint is answered with the command that fetches it and where it lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clipzoo.core.domain import Domain, available_domains, get_domain
from clipzoo.core.errors import ClipzooError
from clipzoo.core.zoo import OPEN_CLIP_HUB, STATE_DICT, TRANSFORMERS, ZooEntry

# The file whose presence in the cache says a repo of this format is there.
MARKER = {OPEN_CLIP_HUB: "open_clip_config.json", TRANSFORMERS: "config.json"}


def hub_cache() -> Path:
    import huggingface_hub.constants as hf

    return Path(hf.HF_HUB_CACHE)


def repo_cache_folder(repo: str) -> Path:
    """Where huggingface_hub keeps a model repo (``models--org--name``)."""
    return hub_cache() / ("models--" + repo.replace("/", "--"))


def cached_file(repo: str, filename: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, cache_dir=str(hub_cache()))
    return Path(found) if isinstance(found, str) else None


def download_hint(repo: str, filename: str | None = None, folder: str | Path | None = None) -> str:
    """What to run to fetch a repo (or one file of it) once, online, and where it lands."""
    what = f"{repo} {filename}" if filename else repo
    hint = f"run `huggingface-cli download {what}` once online (it lands in {repo_cache_folder(repo)})"
    if filename:
        where = Path(folder) if folder else Path("DIR")
        hint += f", or put {Path(filename).name} in {where} and give --folder {where}"
    return hint + ", or give --allow-download"


@dataclass
class ZooStatus:
    entry: ZooEntry
    present: bool
    where: str  # the local copy, or how to get one

    def line(self) -> str:
        return self.where


def entry_status(entry: ZooEntry, folder: str | Path | None = None) -> ZooStatus:
    """Whether an entry's files are here (the HF cache, or ``folder`` for a state-dict file)."""
    if not entry.importable:
        return ZooStatus(entry, False, f"not importable: {entry.why_not}")
    repo = entry.repo
    if entry.format == STATE_DICT:
        assert entry.file is not None
        if folder is not None and (Path(folder) / Path(entry.file).name).is_file():
            return ZooStatus(entry, True, str(Path(folder) / Path(entry.file).name))
        found = cached_file(repo, entry.file) if repo else None
        if found is not None:
            return ZooStatus(entry, True, str(found))
        return ZooStatus(entry, False, "missing: " + download_hint(repo or entry.source, entry.file, folder))
    found = cached_file(repo, MARKER[entry.format]) if repo else None
    if found is not None:
        return ZooStatus(entry, True, str(found.parent))
    return ZooStatus(entry, False, "missing: " + download_hint(repo or entry.source))


def zoo_domains(domain: str | None = None) -> list[Domain]:
    if domain is not None:
        return [get_domain(domain)]
    found = []
    for name in available_domains():
        try:
            found.append(get_domain(name))
        except ClipzooError:
            continue
    return found


def list_zoo(domain: str | None = None, folder: str | Path | None = None) -> list[ZooStatus]:
    """Every catalogue entry (of one domain, or all) with its local status."""
    return [entry_status(entry, folder) for d in zoo_domains(domain) for entry in d.zoo()]


def find_entry(domain: Domain, name: str) -> ZooEntry | None:
    return next((e for e in domain.zoo() if e.name == name), None)
