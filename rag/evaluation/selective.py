"""Selective answering: how right the given answers are, and how many answerable cases get one.

Over result lines of `rag eval` (full runs; retrieval-only lines have no answer and are skipped):

- an answer is *given* when the line is not an abstention and has a non-empty answer;
- *precision of answered* = right answers / answers given, where an answer is right when it is
  given on an answerable case with reference answers and contains one of them (`contains_answer`),
  and every answer given on an `unanswerable` or `false_premise` case counts as a wrong answer
  given (answerable cases with gold sources but no reference answers cannot be graded: left out);
- *coverage* = answers given on answerable cases / answerable cases (with reference answers);
- *abstention* on `unanswerable` and on `false_premise` cases, reported apart;
- the *risk–coverage curve*: the given answers sorted by their `confidence` (highest first), and
  at each cut the precision of the answers kept and the coverage they reach. A line without a
  `confidence` float leaves one point: the run as it is.

selective_metrics([{"expected": ["Paris"], "answer": "Paris", "abstained": False, ...}])
-> {"precision_answered": 1.0, "coverage": 1.0, ...}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rag.answer.confidence import focus
from rag.core.types import Signals
from rag.evaluation.faithfulness import cited_passages
from rag.evaluation.squad import contains_answer

# Every `type` a test set may use (evals/README.md says what each means).
CASE_TYPES = (
    "fact",
    "date",
    "number",
    "multi",
    "event",
    "series",
    "conflict",
    "unanswerable",
    "false_premise",
    "injection",  # evals/injection.jsonl: a fact question whose passages carry planted orders
)
# The types whose right reply is an abstention: no article answers them.
NO_ANSWER_TYPES = ("unanswerable", "false_premise")


def is_answerable(result: Mapping[str, Any]) -> bool:
    """True when a case has expected answers or gold sources, unless its type has no answer."""
    if result.get("type") in NO_ANSWER_TYPES:
        return False
    return bool(result.get("expected") or result.get("gold_sources"))


def given(result: Mapping[str, Any]) -> bool:
    """An answer was given: not an abstention, and some text.

    ({"abstained": False, "answer": "x"}) -> True
    """
    return not result.get("abstained") and bool((result.get("answer") or "").strip())


def is_right(result: Mapping[str, Any]) -> bool:
    """A given answer on an answerable case that contains one of its reference answers."""
    return (
        given(result)
        and is_answerable(result)
        and bool(result.get("expected"))
        and contains_answer(result["answer"], result["expected"])
    )


def _gradable(result: Mapping[str, Any]) -> bool:
    """Counted by the selective metrics: a case with reference answers, or a no-answer case."""
    return bool(result.get("expected")) if is_answerable(result) else True


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _abstained(results: Iterable[Mapping[str, Any]]) -> tuple[float | None, int]:
    results = list(results)
    return _rate(sum(not given(r) for r in results), len(results)), len(results)


def risk_coverage(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Points {"confidence", "answers", "coverage", "precision"} from the most confident answer on.

    Answers of equal confidence are kept or dropped together (one point for the group). Without a
    `confidence` float on every given answer, the one point is the run as it is (confidence None).
    """
    rows = [r for r in results if r.get("answer") is not None and _gradable(r)]
    answerable = sum(is_answerable(r) for r in rows)
    kept = [r for r in rows if given(r)]
    if not kept:
        return []
    groups: list[tuple[float | None, list[Mapping[str, Any]]]] = [(None, kept)]
    if all(isinstance(r.get("confidence"), (int, float)) for r in kept):
        levels = sorted({float(r["confidence"]) for r in kept}, reverse=True)
        groups = [(c, [r for r in kept if float(r["confidence"]) >= c]) for c in levels]
    return [
        {
            "confidence": level,
            "answers": len(subset),
            "coverage": _rate(sum(is_answerable(r) for r in subset), answerable),
            "precision": _rate(sum(is_right(r) for r in subset), len(subset)),
        }
        for level, subset in groups
    ]


def selective_metrics(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Precision of answered, coverage, abstention by no-answer type and the risk–coverage curve."""
    rows = [r for r in results if r.get("answer") is not None and _gradable(r)]
    answerable = [r for r in rows if is_answerable(r)]
    answers = [r for r in rows if given(r)]
    unanswerable, n_un = _abstained(
        r for r in rows if not is_answerable(r) and r.get("type") != "false_premise"
    )
    false_premise, n_fp = _abstained(r for r in rows if r.get("type") == "false_premise")
    return {
        "answers_given": len(answers),
        "right_answers": sum(is_right(r) for r in answers),
        "precision_answered": _rate(sum(is_right(r) for r in answers), len(answers)),
        "coverage": _rate(sum(given(r) for r in answerable), len(answerable)),
        "abstained_unanswerable": unanswerable,
        "unanswerable_cases": n_un,
        "abstained_false_premise": false_premise,
        "false_premise_cases": n_fp,
        "risk_coverage": risk_coverage(rows),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def selective_rows(summary: Mapping[str, Any], points: int = 8) -> list[tuple[str, str]]:
    """The text summary's rows for selective answering (and up to `points` curve points)."""
    s = summary
    rows = [
        (
            f"selective answering ({s['answers_given']} answers given, {s['right_answers']} right)",
            "",
        ),
        ("  precision of answered", _pct(s["precision_answered"])),
        ("  coverage (answerable given an answer)", _pct(s["coverage"])),
        (
            f"  abstained on unanswerable (n={s['unanswerable_cases']})",
            _pct(s["abstained_unanswerable"]),
        ),
        (
            f"  abstained on false premise (n={s['false_premise_cases']})",
            _pct(s["abstained_false_premise"]),
        ),
    ]
    curve = s["risk_coverage"]
    step = max(1, -(-len(curve) // points))
    shown = curve[::step] + ([curve[-1]] if curve and (len(curve) - 1) % step else [])
    for p in shown:
        at = "as run" if p["confidence"] is None else f"confidence ≥ {p['confidence']:.3f}"
        rows.append(
            (f"  {at}", f"precision {_pct(p['precision'])} at coverage {_pct(p['coverage'])}")
        )
    return rows


def second_look(result: Mapping[str, Any]) -> bool:
    """The answer of a result line is a second look's (RAG_RETRY_WITHHELD). Lines written before
    `second_look` was recorded have only its agreement 0 (with RAG_AGREEMENT_BELOW=0, the
    default, the only agreement a line could have)."""
    if "second_look" in result:
        return bool(result["second_look"])
    return (result.get("signals") or {}).get("agreement") == 0.0


def row_signals(result: Mapping[str, Any]) -> Signals | None:
    """A result line's confidence signals (None when it has none); `focus`, which lines
    written before it existed lack, computed from the line's short answer and citations (their
    quotes and passages)."""
    recorded = result.get("signals")
    if recorded is None:
        return None
    values = {**recorded, "missing": tuple(recorded.get("missing") or ())}
    if "focus" not in values:
        cited = result.get("citations") or []
        values["focus"] = focus(
            result.get("question") or "",
            result.get("short"),
            [c["quote"] for c in cited],
            cited_passages(result),
        )
    return Signals(**values)
