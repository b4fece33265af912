"""The demo job: a domain's demo data through the train job (all its stages), then its demo queries through the
registered model's predict path, as ``clipzoo predict`` and the server answer them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from clipzoo.core.domain import DemoData, DemoQuery, Domain
from clipzoo.core.spec import ModelSpec
from clipzoo.core.stages import TRAIN_INPUT
from clipzoo.registry.loading import load_pyfunc
from clipzoo.registry.tracking import clipzoo_home

from .data import demo_data
from .train import TrainResult, plan_stages, train, train_config


@dataclass
class DemoResult:
    data: DemoData
    result: TrainResult
    ref: str | None = None  # the registered version the queries ran on
    answers: list[tuple[DemoQuery, dict[str, Any]]] = field(default_factory=list)


def demo_inputs(data: DemoData) -> dict[str, Path]:
    """The demo data as training inputs: the training manifest and every extra file the generator wrote."""
    return {TRAIN_INPUT: data.train, **data.extra}


def demo(
    domain: Domain,
    settings: Mapping[str, Any] | None = None,
    small: bool = False,
    spec: ModelSpec | None = None,
    output_dir: str | Path | None = None,
    announce: Callable[[str], None] = lambda line: None,
) -> DemoResult:
    """Write (or reuse) the demo data, train every stage with the domain's demo settings overridden by ``settings``,
    evaluate held-out zero-shot, register, and answer the domain's demo queries with the registered version."""
    spec = spec or domain.default_spec()
    config = train_config(domain.demo_train_defaults(small), settings or {})
    data = demo_data(domain, small=small)
    inputs = demo_inputs(data)
    stages = [
        f"{p.stage.name} ({config.for_stage(p.stage.name).epochs} epoch(s))" if p.stage.contrastive else p.stage.name
        for p in plan_stages(domain, spec, inputs)
        if p.source is not None
    ]
    announce(f"clipzoo demo {domain.name}: demo data in {data.train.parent}; training {', '.join(stages)} on CPU")
    result = train(domain, spec, inputs, heldout=data.heldout, config=config, output_dir=output_dir)
    outcome = DemoResult(data, result)
    pub = result.published
    if pub is None or result.clip is None:
        return outcome
    outcome.ref = f"{pub.name}/{pub.version}"  # the version just trained, whether or not it became champion
    model = load_pyfunc(outcome.ref)
    for query in domain.demo_queries(data, result.clip, outcome.ref, clipzoo_home()):
        row = model.predict(pd.DataFrame(query.inputs), params=query.params).to_dict("records")[0]
        outcome.answers.append((query, row))
    return outcome
