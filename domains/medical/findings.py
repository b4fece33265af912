"""Multi-finding zero-shot detection (CT-CLIP, Merlin): a present and an absent prompt set per finding; the softmax
over the pair gives the finding's probability, scored against 0/1 label columns by AUROC with a bootstrap CI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from clipzoo.core.errors import InputError
from clipzoo.core.metrics import auroc_with_ci
from clipzoo.core.model import ClipModel
from clipzoo.core.zeroshot import PromptPack, class_probabilities, classifier_weights


@dataclass(frozen=True)
class FindingPrompts:
    """Per finding, its synonyms; each synonym goes through every present and every absent template."""

    present_templates: tuple[str, ...]
    absent_templates: tuple[str, ...]
    findings: dict[str, tuple[str, ...]]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FindingPrompts:
        prompts = cls(
            tuple(data["present_templates"]),
            tuple(data["absent_templates"]),
            {k: tuple(v) for k, v in data["findings"].items()},
        )
        if not prompts.findings:
            raise InputError("finding prompts name no findings")
        return prompts

    def pack(self, finding: str) -> PromptPack:
        """A two-class pack ("present", "absent") of full sentences for one finding."""
        syn = self.findings[finding]
        present = tuple(t.format(s) for s in syn for t in self.present_templates)
        absent = tuple(t.format(s) for s in syn for t in self.absent_templates)
        return PromptPack(name=finding, templates=("{}",), classes={"present": present, "absent": absent})

    def sentences(self) -> list[str]:
        return [p for f in self.findings for p in self.pack(f).all_prompts()]


@torch.no_grad()
def finding_probabilities(clip: ClipModel, features: torch.Tensor, prompts: FindingPrompts) -> dict[str, np.ndarray]:
    """P(finding present) per row of ``features`` (L2-normalised embeddings) for every finding."""
    out = {}
    for finding in prompts.findings:
        weights = classifier_weights(clip, prompts.pack(finding))
        out[finding] = class_probabilities(features, weights, clip)[:, 0].numpy()
    return out


def finding_metrics(
    probabilities: dict[str, np.ndarray], labels: dict[str, np.ndarray], n_resamples: int = 1000
) -> dict[str, float]:
    """``{finding}_auroc``, ``_auroc_ci_low``, ``_auroc_ci_high`` per finding and ``findings_mean_auroc``; a finding
    whose labels hold one class only is skipped (AUROC undefined)."""
    metrics: dict[str, float] = {}
    scores = []
    for finding, prob in probabilities.items():
        y = np.asarray(labels[finding]).astype(np.int64)
        if len(np.unique(y)) < 2:
            continue
        res = auroc_with_ci(prob, y, n_resamples=n_resamples)
        metrics[f"{finding}_auroc"] = res["auroc"]
        metrics[f"{finding}_auroc_ci_low"] = res["ci_low"]
        metrics[f"{finding}_auroc_ci_high"] = res["ci_high"]
        scores.append(res["auroc"])
    if scores:
        metrics["findings_mean_auroc"] = float(np.mean(scores))
    return metrics
