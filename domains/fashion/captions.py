"""Product captions built from a product's text (title, description) and its attribute columns.

``attribute_caption`` is the deterministic form used for users' catalogues ("relaxed tee; colour: red; pattern:
striped"); the demo draws varied natural phrasings with ``natural_caption``. Modification texts for composed
triplets ("same but in blue", "with stripes") come from ``modification_text``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "t-shirt": ("t-shirt", "tee", "t-shirt top"),
    "dress": ("dress", "midi dress", "sundress"),
    "trousers": ("trousers", "pants", "slacks"),
    "skirt": ("skirt", "a-line skirt", "midi skirt"),
    "shoe": ("shoe", "sneaker", "trainer"),
    "bag": ("bag", "handbag", "tote bag"),
}
PATTERN_ADJ: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "solid", "solid-colour"),
    "striped": ("striped", "stripy", "candy-stripe"),
    "dotted": ("polka-dot", "dotted", "spotted"),
    "checked": ("checked", "plaid", "gingham"),
}
PATTERN_PHRASE: dict[str, tuple[str, ...]] = {
    "plain": ("with no pattern", "in a solid colour"),
    "striped": ("with stripes", "with a stripe print"),
    "dotted": ("with polka dots", "with a dot print"),
    "checked": ("with a check pattern", "with checks"),
}
FITS = ("relaxed", "slim", "regular", "oversized", "classic", "easy")
TITLES: dict[str, tuple[str, ...]] = {
    "t-shirt": ("{fit} cotton tee", "essential crew-neck t-shirt", "{fit} jersey t-shirt", "organic cotton tee"),
    "dress": ("{fit} summer dress", "strappy midi dress", "flared sundress", "{fit} jersey dress"),
    "trousers": ("{fit} chino trousers", "wide-leg pants", "tailored trousers", "{fit} linen trousers"),
    "skirt": ("{fit} a-line skirt", "pleated midi skirt", "high-waist skirt", "{fit} cotton skirt"),
    "shoe": ("{fit} canvas sneaker", "low-top trainer", "lace-up shoe", "{fit} leather sneaker"),
    "bag": ("{fit} tote bag", "structured handbag", "top-handle bag", "{fit} shopper bag"),
}
CAPTION_TEMPLATES: tuple[str, ...] = (
    "{colour} {padj} {cat}, {title}",
    "{title} in {colour}, {pphrase}",
    "{title}: {colour}, {padj}",
    "{padj} {cat} in {colour} ({title})",
    "{colour} {cat} {pphrase} - {title}",
)
COLOUR_EDITS: tuple[str, ...] = (
    "same but in {c}",
    "make it {c}",
    "in {c} instead",
    "change the colour to {c}",
    "the {c} version",
)
PATTERN_EDITS: dict[str, tuple[str, ...]] = {
    "plain": ("make it plain", "without the print", "same but plain"),
    "striped": ("with stripes", "make it striped", "same but striped"),
    "dotted": ("with polka dots", "make it dotted", "same but with dots"),
    "checked": ("with a check pattern", "make it checked", "same but in checks"),
}


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def product_title(category: str, rng: np.random.Generator) -> str:
    return _tidy(_pick(rng, TITLES[category]).format(fit=_pick(rng, FITS)))


def natural_caption(title: str, category: str, colour: str, pattern: str, rng: np.random.Generator) -> str:
    """A varied caption naming the product's title, category, colour and pattern."""
    return _tidy(
        _pick(rng, CAPTION_TEMPLATES).format(
            title=title,
            cat=_pick(rng, CATEGORY_WORDS[category]),
            colour=colour,
            padj=_pick(rng, PATTERN_ADJ[pattern]),
            pphrase=_pick(rng, PATTERN_PHRASE[pattern]),
        )
    )


def attribute_caption(text: str, attributes: Mapping[str, object]) -> str:
    """``"<text>; colour: red; pattern: striped"``: the text, then every non-empty attribute as ``name: value``."""
    parts = [_tidy(str(text))] if text is not None and str(text).strip() and str(text) != "nan" else []
    for name, value in attributes.items():
        if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
            continue
        parts.append(f"{name.replace('_', ' ')}: {_tidy(str(value))}")
    if not parts:
        raise ValueError("a product needs a text or at least one attribute to caption it")
    return "; ".join(parts)


def modification_text(source: Mapping[str, str], target: Mapping[str, str], rng: np.random.Generator) -> str:
    """How to turn ``source`` into ``target`` in words: a colour edit, a pattern edit, or both."""
    edits = []
    if source["colour"] != target["colour"]:
        edits.append(_pick(rng, COLOUR_EDITS).format(c=target["colour"]))
    if source["pattern"] != target["pattern"]:
        edits.append(_pick(rng, PATTERN_EDITS[target["pattern"]]))
    if not edits:
        raise ValueError("source and target have the same colour and pattern: nothing to modify")
    return " and ".join(edits)
