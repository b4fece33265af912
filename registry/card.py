"""The model card that travels with every registered version."""

from __future__ import annotations

from typing import Any

from clipzoo.core.calibration import BOUNDS
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
    trust: dict[str, Any] | None = None,
) -> str:
    """The card's markdown. ``source`` (an imported checkpoint): where it came from, the revision and sha256 of the
    files imported, its licence (restrictions shown first), citation and the numbers its publishers report.
    ``trust`` (``clipzoo.core.trust.trust_record``, plus ``notes``): how calibrated its scores are and its
    operating points."""
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
{trust_section(trust) if trust is not None else ""}
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


def _calibration_line(what: str, record: dict[str, Any] | None) -> str:
    if not record:
        return f"- {what}: **not calibrated**: they rank the labels, they are not probabilities."
    line = (f"- {what}: divided by the temperature T = {record['temperature']:.4g}, fitted on {record['rows']} "
            f"held-out rows of `{record['task']}`; expected calibration error (15 bins) {record['ece_before']:.4f} "
            f"before, {record['ece_after']:.4f} after ({record['ece_after_method']}).")  # fmt: skip
    if record["temperature"] >= BOUNDS[1] * 0.99:
        line += " T is the largest searched: on these rows the scores carry next to no information."
    if record["ece_after"] >= record["ece_before"]:
        line += " **It did not lower the error on rows left out of its fit: do not read the scores as probabilities.**"
    return line


def _interval(point: dict[str, Any], key: str) -> str:
    low, high = point[f"{key}_ci"]
    return f"{point[key]:.3f} [{low:.3f}, {high:.3f}]"


def _point_row(name: str, point: dict[str, Any]) -> str:
    return (f"| {name} | {point['threshold']:.4f} | {point['target_sensitivity']:.2f} | "
            f"{_interval(point, 'sensitivity')} | {_interval(point, 'specificity')} | "
            f"{point['positives']} / {point['negatives']} |")  # fmt: skip


def trust_section(trust: dict[str, Any]) -> str:
    """The card's section on calibrated scores and operating points."""
    lines = [_calibration_line("Zero-shot scores", trust.get("calibration"))]
    head = trust.get("head")
    if head is not None:
        lines.append(_calibration_line(f"Adapted head scores ({head['describe']}, column `{head['column']}`)",
                                       head.get("calibration")))  # fmt: skip
    points = dict(trust.get("operating_points") or {})
    if head is not None and head.get("operating_point"):
        points[f"{head['column']} (adapted head)"] = head["operating_point"]
    if points:
        confidence = next(iter(points.values())).get("confidence", 0.95)
        lines += [
            "",
            "Operating points: a finding is called positive when its P(present) is at or above the threshold, chosen "
            "on the held-out rows for the target sensitivity (so the sensitivity there meets it by construction); "
            f"{confidence:.0%} percentile bootstrap intervals, rows resampled at the fixed threshold.",
            "",
            "| finding | threshold | target sensitivity | sensitivity | specificity | positive / negative rows |",
            "|---|---|---|---|---|---|",
            *(_point_row(name, point) for name, point in points.items()),
        ]
    if trust.get("notes"):
        lines += ["", *(f"- {note}" for note in trust["notes"])]
    return "\n## Calibrated scores and operating points\n" + "\n".join(lines) + "\n"
