"""Scores a clinician can act on: calibration and operating points of each domain's demo model.

For each domain, the small demo (``clipzoo demo <domain> --small``'s data and settings; ``--full`` for the full one)
is trained and registered in a temporary clipzoo home (``--home`` to keep it), which calibrates it on its held-out
manifest. Two adapted lines are registered the same way, as ``clipzoo adapt --heldout`` does: the image model with
GDA on 4 shots per shape (the head whose uncalibrated scores read ``cross (1.000), star (0.000)``), and the medical
model with a present/absent head on ``effusion``. Then, one section each:

- calibration: per classifier (zero-shot, adapted head), the fitted temperature and the expected calibration error
  (15 bins) before and after (cross-fitted: T fitted without each row's fold), the NLL, and the share of held-out
  rows whose top score is at least 0.999 before and after;
- out of distribution: per demo model, the share of its unseen demo training inputs flagged (false alarms) and of
  each other domain's held-out inputs its reader can read (detections);
- operating points: per finding (medical zero-shot findings, the present/absent head), the threshold on P(present)
  at the target sensitivity, with sensitivity and specificity there and their bootstrap intervals.

Each section is a function of the same ``DemoModel`` list returning table rows; another section (out-of-distribution
statistics, say) is one more function in ``SECTIONS``.

Usage: python scripts/bench/trust.py [--domains image medical ...] [--full] [--sensitivity 0.9] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # trust_ood.py beside this file
from trust_ood import ood_section

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

DOMAINS = ("image", "medical", "remote_sensing", "pathology", "fashion", "sign_language")
SATURATED = 0.999


@dataclass
class DemoModel:
    """One registered version with its held-out manifest and the rows' embeddings."""

    domain: str
    ref: str
    clip: Any
    heldout: Any  # Manifest
    features: Any  # torch.Tensor [N, D]
    what: str  # how it was made
    train: Any = None  # its demo training manifest (inputs its held-out statistics never saw)


def train_demo(name: str, small: bool, sensitivity: float) -> DemoModel:
    from clipzoo.core.data import Manifest
    from clipzoo.core.domain import get_domain
    from clipzoo.core.evaluate import encode_manifest
    from clipzoo.pipeline.data import demo_data
    from clipzoo.pipeline.demo import demo_inputs
    from clipzoo.pipeline.train import train, train_config
    from clipzoo.registry.loading import load_clip

    domain = get_domain(name)
    data = demo_data(domain, small=small)
    start = time.perf_counter()
    config = train_config(domain.demo_train_defaults(small), {})
    result = train(domain, domain.default_spec(), demo_inputs(data), heldout=data.heldout, config=config,
                   sensitivity=sensitivity)  # fmt: skip
    ref = f"{result.published.name}/{result.published.version}"
    print(f"[{name}] trained and registered {ref} in {time.perf_counter() - start:.0f} s", flush=True)
    clip = load_clip(ref)
    heldout = Manifest.read(data.heldout)
    features = encode_manifest(clip, domain, heldout)
    return DemoModel(name, ref, clip, heldout, features, "demo, zero-shot", train=data.train)


def adapt_demo(base: DemoModel, column: str, method: str, per_class: int, small: bool, sensitivity: float,
               line: str) -> DemoModel:  # fmt: skip
    """``clipzoo adapt`` of ``base`` on ``per_class`` training rows of each value of ``column``, with its demo
    held-out manifest."""
    import pandas as pd
    from clipzoo.core.domain import get_domain
    from clipzoo.core.evaluate import encode_manifest
    from clipzoo.pipeline.adapt import adapt
    from clipzoo.pipeline.data import demo_data
    from clipzoo.registry.loading import load_clip

    data = demo_data(get_domain(base.domain), small=small)
    frame = pd.read_csv(data.train)
    picked = frame.groupby(column).sample(n=per_class, random_state=0)
    picked = picked.assign(path=[str(Path(data.train).parent / p) for p in picked["path"]])
    shots = Path(tempfile.mkdtemp(prefix="trust-shots-")) / "shots.csv"
    picked.to_csv(shots, index=False)
    result = adapt(base.ref, shots, column, method, line=line, heldout=data.heldout, sensitivity=sensitivity)
    ref = f"{result.published.name}/{result.published.version}"
    clip = load_clip(ref)
    features = encode_manifest(clip, get_domain(base.domain), base.heldout)
    what = f"{method} on {per_class} shots per {column}"
    print(f"[{base.domain}] adapted {base.ref} -> {ref} ({what})", flush=True)
    return DemoModel(base.domain, ref, clip, base.heldout, features, what)


# ------------------------------------------------------------------------------------------------- calibration


def _share_saturated(logits: Any, temperature: float | None) -> float:
    return float(((logits / (temperature or 1.0)).softmax(-1).max(1).values >= SATURATED).float().mean())


def _zero_shot_logits(model: DemoModel) -> Any | None:
    """The zero-shot logits of the task the version was calibrated on, over its held-out rows of that task."""
    import torch
    from clipzoo.core.domain import get_domain
    from clipzoo.core.trust import CALIBRATION, primary_task
    from clipzoo.core.zeroshot import PromptPack, class_logits, classifier_weights

    domain = get_domain(model.domain)
    task = primary_task(domain, model.heldout)
    if task is None or not model.clip.spec.extra.get(CALIBRATION):
        return None
    pack = PromptPack.from_dict(task.prompt_pack, domain.prompt_packs()[task.prompt_pack])
    values = [str(v) for v in model.heldout.column(task.label_column)]
    keep = torch.tensor([i for i, v in enumerate(values) if v in pack.classes])
    return class_logits(model.features[keep], classifier_weights(model.clip, pack), model.clip)


def _head_logits(model: DemoModel) -> Any | None:
    from clipzoo.core.adapt.heldout import head_label_set
    from clipzoo.core.domain import get_domain

    head = model.clip.head
    labels = head_label_set(get_domain(model.domain), head)
    values = labels.labels(model.heldout)
    keep = [i for i, v in enumerate(values) if v in head.classes]
    return head.logits(model.features[keep])


def _not_calibrated_why(model: DemoModel) -> str:
    from clipzoo.core.domain import get_domain
    from clipzoo.core.trust import primary_task
    from clipzoo.core.zeroshot import is_sigmoid

    if is_sigmoid(model.clip):
        return "SigLIP sigmoids"
    if primary_task(get_domain(model.domain), model.heldout) is None:
        return "no classification zero-shot task in its held-out data"
    return "too few held-out rows"


def calibration_section(models: list[DemoModel]) -> list[dict[str, Any]]:
    """One row per classifier: temperature, ECE and NLL before/after, share of saturated top scores."""
    from clipzoo.core.adapt.head import CALIBRATION as HEAD_CALIBRATION
    from clipzoo.core.trust import CALIBRATION

    rows = []
    for model in models:
        found = [("zero-shot", model.clip.spec.extra.get(CALIBRATION), _zero_shot_logits)]
        if model.clip.head is not None:  # an adapted line: its head answers (its zero-shot row is its source's)
            found = [("adapted head", model.clip.head.info.get(HEAD_CALIBRATION), _head_logits)]
        for classifier, record, logits_of in found:
            row: dict[str, Any] = {"domain": model.domain, "model": model.ref, "classifier": classifier}
            if not record:
                rows.append({**row, "task": f"not calibrated: {_not_calibrated_why(model)}"})
                continue
            logits = logits_of(model)
            rows.append({**row, "task": record["task"], "rows": record["rows"], "T": record["temperature"],
                         "ECE before": record["ece_before"], "ECE after": record["ece_after"],
                         "NLL before": record["nll_before"], "NLL after": record["nll_after"],
                         f"top>={SATURATED} before": _share_saturated(logits, None),
                         f"top>={SATURATED} after": _share_saturated(logits, record["temperature"])})  # fmt: skip
    return rows


# -------------------------------------------------------------------------------------------- operating points


def _interval(point: dict[str, Any], key: str) -> str:
    low, high = point[f"{key}_ci"]
    return f"{point[key]:.3f} [{low:.3f}, {high:.3f}]"


def operating_point_section(models: list[DemoModel]) -> list[dict[str, Any]]:
    """One row per finding with an operating point: zero-shot findings, and a present/absent head's."""
    from clipzoo.core.adapt.head import OPERATING_POINT
    from clipzoo.core.trust import OPERATING_POINTS

    rows = []
    for model in models:
        points = {name: ("zero-shot", p) for name, p in (model.clip.spec.extra.get(OPERATING_POINTS) or {}).items()}
        if model.clip.head is not None:
            head_point = model.clip.head.info.get(OPERATING_POINT)
            points = {head_point["label_column"]: ("adapted head", head_point)} if head_point else {}
        for name, (source, point) in points.items():
            rows.append({"domain": model.domain, "model": model.ref, "finding": name, "scored by": source,
                         "threshold": point["threshold"], "target": point["target_sensitivity"],
                         "sensitivity [95% CI]": _interval(point, "sensitivity"),
                         "specificity [95% CI]": _interval(point, "specificity"),
                         "pos/neg": f"{point['positives']}/{point['negatives']}"})  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------------------------- output

# Each section: a title and a function of the demo models returning table rows (dicts; missing cells print "-").
SECTIONS: list[tuple[str, Callable[[list[DemoModel]], list[dict[str, Any]]]]] = [
    ("Calibration (temperature scaling on the held-out rows)", calibration_section),
    ("Operating points (threshold on P(present) at the target sensitivity)", operating_point_section),
    ("Out of distribution (held-out embedding statistics: flag rates)", ood_section),
]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n## {title}")
    if not rows:
        print("(none)")
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS))
    parser.add_argument("--full", action="store_true", help="the full demo data and settings (slower)")
    parser.add_argument("--sensitivity", type=float, default=0.90, help="the operating points' target sensitivity")
    parser.add_argument("--home", help="the clipzoo home to train in (default: a temporary folder)")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="clipzoo-trust-"))
    os.environ["CLIPZOO_HOME"] = str(home)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
    print(f"clipzoo home: {home}", flush=True)
    small = not args.full
    models: list[DemoModel] = []
    for name in args.domains:
        base = train_demo(name, small, args.sensitivity)
        models.append(base)
        if name == "image":
            models.append(adapt_demo(base, "shape", "gda", 4, small, args.sensitivity, "shape-gda"))
        if name == "medical":
            models.append(adapt_demo(base, "effusion", "gda", 4, small, args.sensitivity, "effusion-gda"))
    for title, section in SECTIONS:
        print_table(title, section(models))


if __name__ == "__main__":
    main()
