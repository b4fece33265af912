"""Multi-finding zero-shot detection (CT-CLIP, Merlin): a present and an absent prompt set per finding, declared as one
two-class prompt pack per finding; core's multilabel evaluation takes the softmax over the pair as the finding's
probability and scores it against 0/1 label columns by AUROC with a bootstrap CI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clipzoo.core.errors import InputError
from clipzoo.core.zeroshot import PromptPack


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


def format_findings(metrics: dict[str, float]) -> list[str]:
    """Per-finding AUROC with its bootstrap CI and the mean, as a table; then the other metrics."""
    findings = sorted(
        k.removesuffix("_auroc") for k in metrics if k.endswith("_auroc") and not k.endswith("mean_auroc")
    )
    lines = ["  finding        AUROC   95% bootstrap CI"]
    for f in findings:
        low, high = metrics[f"{f}_auroc_ci_low"], metrics[f"{f}_auroc_ci_high"]
        lines.append(f"  {f:13s}  {metrics[f'{f}_auroc']:.3f}   [{low:.3f}, {high:.3f}]")
    lines.append(f"  {'mean':13s}  {metrics.get('findings_mean_auroc', float('nan')):.3f}")
    rest = [k for k in sorted(metrics) if not any(k.startswith(f"{f}_auroc") for f in findings)]
    rest = [k for k in rest if k != "findings_mean_auroc"]
    return lines + [f"  {key:32s} {metrics[key]:.4f}" for key in rest]
