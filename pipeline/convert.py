"""The convert job: a public dataset layout into a manifest, through the converters a domain declares."""

from __future__ import annotations

import inspect
from typing import Any

from clipzoo.core.domain import Converter, Domain
from clipzoo.core.errors import InputError


def converter_options(converter: Converter) -> list[str]:
    """The options a converter takes (its keyword parameters besides the source and the output)."""
    params = inspect.signature(converter.run).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def find_converter(domain: Domain, layout: str) -> Converter:
    converters = domain.converters()
    if layout not in converters:
        known = ", ".join(sorted(converters)) or "none"
        raise InputError(f"domain {domain.name!r} converts no layout {layout!r}; its layouts: {known}")
    return converters[layout]


def convert(domain: Domain, layout: str, source: str, out: str, options: dict[str, Any]) -> str:
    """Run ``domain``'s converter for ``layout`` on ``source``, writing ``out``; returns its one-line summary."""
    converter = find_converter(domain, layout)
    accepted = converter_options(converter)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputError(f"layout {layout!r} takes no option(s) {unknown}; its options: {accepted or 'none'}")
    params = [p for p in inspect.signature(converter.run).parameters.values() if p.name in accepted]
    missing = [p.name for p in params if p.default is p.empty and p.name not in options]
    if missing:
        flags = " ".join(f"--option {name}=..." for name in missing)
        raise InputError(f"layout {layout!r} needs option(s) {missing}: give {flags}")
    for p in params:
        if isinstance(p.default, bool) and p.name in options and not isinstance(options[p.name], bool):
            raise InputError(f"option {p.name} must be true or false, got {options[p.name]!r}")
    return str(converter.run(source, out, **options))
