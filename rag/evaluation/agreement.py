"""How far to trust the faithfulness checker: its verdicts against hand labels.

`evals/faithfulness_labels.jsonl` holds answer sentences with the passages they cite and a person's
verdict ({"id", "sentence", "passages": [text], "question", "supported": bool, "note"}). `agreement`
runs `rag.evaluation.metrics.sentence_verdict` over them; the positive class is "unsupported" (what
the checker is for: catching claims the passages do not make).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.core.errors import InputError
from rag.evaluation.metrics import precision_recall, sentence_verdict
from rag.evaluation.runner import json_lines

LABELS = Path("evals/faithfulness_labels.jsonl")  # relative to the working directory (a checkout)
FIELDS = {"id": str, "sentence": str, "passages": list, "question": str, "supported": bool}


@dataclass(frozen=True)
class Agreement:
    """Checker vs person. Confusion counts are keyed (person, checker), each label "supported"
    or "unsupported"."""

    n: int
    agreement: float
    confusion: dict[tuple[str, str], int]
    precision: float | None  # of the checker's "unsupported"
    recall: float | None  # share of the person's "unsupported" that the checker caught
    disagreements: tuple[tuple[str, bool, str], ...]  # (id, person's label, checker's reason)


def load_labels(path: str | Path = LABELS) -> list[dict[str, Any]]:
    """The labelled sentences; InputError naming the line for a missing or mistyped field."""
    labels = []
    for lineno, item in json_lines(path, "labels"):
        bad = [
            k
            for k, t in FIELDS.items()
            if not isinstance(item.get(k) if isinstance(item, dict) else None, t)
        ]
        if bad:
            raise InputError(f"{path}:{lineno}: missing or mistyped field(s) {', '.join(bad)}")
        labels.append(item)
    if not labels:
        raise InputError(f"{path} has no labels")
    return labels


def _name(supported: bool) -> str:
    return "supported" if supported else "unsupported"


def agreement(labels: list[dict[str, Any]]) -> Agreement:
    """Run the checker on every labelled sentence (no verdict counts as "supported")."""
    confusion = {
        (p, c): 0 for p in ("supported", "unsupported") for c in ("supported", "unsupported")
    }
    person, checker, disagreements = [], [], []
    for item in labels:
        verdict, reason = sentence_verdict(item["sentence"], item["passages"], item["question"])
        said = verdict is not False
        confusion[(_name(item["supported"]), _name(said))] += 1
        person.append(not item["supported"])
        checker.append(not said)
        if said != item["supported"]:
            disagreements.append((item["id"], item["supported"], reason))
    precision, recall = precision_recall(checker, person)
    agreed = sum(p == c for p, c in zip(person, checker, strict=True))
    return Agreement(
        len(labels), agreed / len(labels), confusion, precision, recall, tuple(disagreements)
    )


def format_agreement(a: Agreement) -> str:
    """The numbers and the confusion matrix as text, then the sentences the checker got wrong."""

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    c = a.confusion
    corner = "person \\ checker"
    lines = [
        f"labelled sentences: {a.n}",
        f"agreement: {pct(a.agreement)} ({round(a.agreement * a.n)}/{a.n})",
        f"'unsupported' precision: {pct(a.precision)}  recall: {pct(a.recall)}",
        "",
        f"{corner:<18}{'supported':>11}{'unsupported':>13}",
        *(
            f"{person:<18}{c[(person, 'supported')]:>11}{c[(person, 'unsupported')]:>13}"
            for person in ("supported", "unsupported")
        ),
    ]
    if a.disagreements:
        lines += ["", "disagreements (id, person's label: checker's reason):"]
        lines += [f"  {i}: person says {_name(s)}; checker: {why}" for i, s, why in a.disagreements]
    return "\n".join(lines)
