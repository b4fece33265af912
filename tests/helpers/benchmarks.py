"""Checks every domain's benchmarks.json passes: it loads, each layout is a converter of its domain taking the
entry's options, and the classes and templates build a prompt pack."""

from __future__ import annotations

from clipzoo.core.benchmark import CLASSIFICATION, MULTILABEL, Benchmark
from clipzoo.core.domain import get_domain
from clipzoo.core.zeroshot import PromptPack
from clipzoo.pipeline.convert import converter_options


def checked_benchmarks(domain_name: str) -> dict[str, Benchmark]:
    """The domain's benchmarks by name, after the checks every entry must pass."""
    domain = get_domain(domain_name)
    benchmarks = {b.name: b for b in domain.benchmarks()}
    assert benchmarks, f"{domain_name} has no benchmarks.json"
    converters = domain.converters()
    for bench in benchmarks.values():
        assert bench.domain == domain_name
        assert bench.layout in converters, f"{bench.name}: no converter {bench.layout!r} in {sorted(converters)}"
        assert converters[bench.layout].run.__doc__, f"{bench.layout}: the converter documents its layout"
        unknown = set(bench.options) - set(converter_options(converters[bench.layout]))
        assert not unknown, f"{bench.name}: options {sorted(unknown)} are not options of {bench.layout!r}"
        assert bench.source and bench.metric
        if bench.classes:
            PromptPack.from_dict(bench.name, bench.prompt_pack())
            assert bench.prompts_source, f"{bench.name}: classes without the source of their prompts"
        if bench.task == MULTILABEL:
            assert set(bench.negatives) <= set(bench.classes)
        if bench.task == CLASSIFICATION and not bench.classes:
            assert bench.notes and "classes" in bench.notes, f"{bench.name}: say where its classes come from"
        for anchor in bench.anchors:
            assert anchor.source and anchor.model
    return benchmarks


def evaluated_on_benchmark(model: str, benchmark: str, data) -> str:
    """`clipzoo eval MODEL --benchmark NAME --data DATA` in this process (the stdout), checked to have logged the
    benchmark's metric next to the published anchors."""
    import contextlib
    import io

    from clipzoo.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["eval", model, "--benchmark", benchmark, "--data", str(data)])
    text = out.getvalue()
    assert code == 0, text + err.getvalue()
    bench = next(b for d in ("medical", "remote_sensing", "pathology", "fashion", "sign_language")
                 for b in get_domain(d).benchmarks() if b.name == benchmark)  # fmt: skip
    assert f"<- {bench.metric}" in text and "logged as run" in text, text
    return text
