"""The model card that travels with every registered version."""

from __future__ import annotations

from typing import Any

from clipzoo.core.spec import INPUT_NOTES, ModelSpec


def model_card(
    spec: ModelSpec,
    data: dict[str, Any],
    metrics: dict[str, float],
    versions: dict[str, str],
    intended_use: str,
    limitations: str,
    registered_as: str | None = None,
    source: dict[str, Any] | None = None,
) -> str:
    """The card's markdown. ``source`` (an imported checkpoint): where it came from, the revision and sha256 of the
    files imported, its licence (restrictions shown first), citation and the numbers its publishers report."""
    metric_rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items()))
    version_rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(versions.items()))
    data_rows = "\n".join(f"- **{k}**: {v}" for k, v in data.items())
    text = spec.model_cfg["text_cfg"].get("hf_model_name") or "open_clip text transformer"
    text_lock = f"{spec.lock_text}" + (
        f" (last {spec.unlocked_text_layers} layers train)" if spec.lock_text and spec.unlocked_text_layers else ""
    )
    initial = spec.pretrained or "random vision tower; text tower's own pretrained weights, if any"
    if source is not None:
        initial = f"the published checkpoint `{source['source']}`, unchanged (no training here)"
    pre = (
        f"{spec.image_size} px, resize `{spec.resize_mode}`, `{spec.interpolation}`, "
        f"mean {list(spec.mean)}, std {list(spec.std)}"
    )
    notes = "".join(f"\n- Input: {note}" for note in spec.extra.get(INPUT_NOTES, []))
    if spec.imported:
        notes += (
            "\n- Input, in two steps: the domain turns a file into an 8-bit RGB picture (above); the checkpoint's "
            "own preprocessing (open_clip's transform with the preprocessing above, PIL resampling with antialiasing) "
            "turns that picture into the tensor, exactly as its authors' code does."
        )
    return f"""# {registered_as or "clipzoo-" + spec.domain}: {spec.name}
{_source_section(source) if source else ""}
## Model
- Domain: `{spec.domain}`; vision tower `{spec.vision_tower}` ({spec.input_channels} channels, {spec.image_size} px);
  text tower `{text}`; embedding {spec.embed_dim}-d; loss `{spec.loss}`.
- Locked towers: image={spec.lock_image}, text={text_lock}. Initial weights: {initial}.
- Preprocessing: {pre}.{notes}

## {"Data" if source else "Training data"}
{data_rows}

## Evaluation (held-out, zero-shot)
| metric | value |
|---|---|
{metric_rows}

## Intended use
{intended_use}

## Limitations
{limitations}

## Library versions
| package | version |
|---|---|
{version_rows}
"""


def _source_section(source: dict[str, Any]) -> str:
    licence = source.get("licence") or "not stated by the importer: read the source's model card"
    restrictions = source.get("restrictions") or []
    warn = f"\n**Licence restrictions: {', '.join(restrictions)}.**\n" if restrictions else ""
    files = "\n".join(f"| `{name}` | `{digest}` |" for name, digest in source.get("files", {}).items())
    reported = "\n".join(
        f"| {r['task']} | {r['metric']} | {r['value']} | {r['source']} |" for r in source.get("reported", [])
    )
    reported_table = (
        f"\n### Reported by its publishers\n| task | metric | value | reported in |\n|---|---|---|---|\n{reported}\n"
        if reported
        else ""
    )
    citation = f"\n### Citation\n```bibtex\n{source['citation']}\n```\n" if source.get("citation") else ""
    return f"""
## Source
Imported from a published checkpoint, without training.
{warn}
- **Source**: `{source["source"]}` ({source["format"]})
- **Revision**: {source.get("revision") or "a local copy (no Hub revision): see the file hashes"}
- **Licence**: {licence}{" (" + source["licence_url"] + ")" if source.get("licence_url") else ""}
- **Paper**: {source.get("paper") or "-"}

| file imported | sha256 |
|---|---|
{files}
{reported_table}{citation}"""
