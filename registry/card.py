"""The model card that travels with every registered version."""

from __future__ import annotations

from typing import Any

from clipzoo.core.spec import ModelSpec


def model_card(
    spec: ModelSpec,
    data: dict[str, Any],
    metrics: dict[str, float],
    versions: dict[str, str],
    intended_use: str,
    limitations: str,
) -> str:
    metric_rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items()))
    version_rows = "\n".join(f"| {k} | {v} |" for k, v in sorted(versions.items()))
    data_rows = "\n".join(f"- **{k}**: {v}" for k, v in data.items())
    text = spec.model_cfg["text_cfg"].get("hf_model_name") or "open_clip text transformer"
    text_lock = f"{spec.lock_text}" + (
        f" (last {spec.unlocked_text_layers} layers train)" if spec.lock_text and spec.unlocked_text_layers else ""
    )
    initial = spec.pretrained or "random vision tower; text tower's own pretrained weights, if any"
    return f"""# clipzoo-{spec.domain}: {spec.name}

## Model
- Domain: `{spec.domain}`; vision tower `{spec.vision_tower}` ({spec.input_channels} channels, {spec.image_size} px);
  text tower `{text}`; embedding {spec.embed_dim}-d; loss `{spec.loss}`.
- Locked towers: image={spec.lock_image}, text={text_lock}. Initial weights: {initial}.

## Training data
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
