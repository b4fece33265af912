"""Findings read from report text by rules (a tiny CheXpert-style labeler): a finding is positive when a sentence
names it without a negation cue. Used by the MedCLIP soft-target loss to tell which report pairs share findings."""

from __future__ import annotations

import re

SENTENCE = re.compile(r"(?<=[.!?;])\s+")
CLAUSE = re.compile(r"[,;:]|\b(?:and|but|with)\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(no|not|without|free of|negative for|absent|resolved)\b", re.IGNORECASE)
PATTERNS = {
    "nodule": re.compile(r"nodul|mass\b", re.IGNORECASE),
    "effusion": re.compile(r"effusion|pleural fluid|fluid in the pleural", re.IGNORECASE),
    "cardiomegaly": re.compile(
        r"cardiomegaly|(heart|cardiac)\b[^.;]*\b(enlarge|increase)|enlarge\w* (heart|cardiac)", re.IGNORECASE
    ),
}
LABELS = (*PATTERNS, "normal")


def report_findings(report: str) -> dict[str, int]:
    """``{finding: 0/1}`` for every finding of ``PATTERNS``, plus ``normal`` (1 when none is positive)."""
    found = dict.fromkeys(PATTERNS, 0)
    for sentence in SENTENCE.split(report):
        for clause in CLAUSE.split(sentence):  # "effusion, no nodule": the negation covers its own clause only
            if NEGATION.search(clause):
                continue
            for name, pattern in PATTERNS.items():
                found[name] |= int(bool(pattern.search(clause)))
    found["normal"] = int(not any(found.values()))
    return found


def label_vector(report: str) -> list[float]:
    """The findings of ``report`` as a vector in the order of ``LABELS``."""
    found = report_findings(report)
    return [float(found[name]) for name in LABELS]
