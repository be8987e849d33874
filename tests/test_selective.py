"""Selective answering metrics on a small hand-made table whose numbers are worked out by hand."""

import pytest

from rag.evaluation.metrics import format_summary, summarize
from rag.evaluation.selective import risk_coverage, selective_metrics


def row(type_, expected, answer, abstained=False, confidence=None, gold=("a.txt",)):
    return {
        "id": f"{type_}-{answer}",
        "question": "?",
        "type": type_,
        "expected": list(expected),
        "gold_sources": list(gold) if expected or type_ == "fact" else [],
        "answer": "" if abstained else answer,
        "abstained": abstained,
        "cited_sources": [],
        "retrieved_sources": ["a.txt"],
        "confidence": confidence,
    }


TABLE = [
    row("fact", ["Paris"], "C'est Paris [1].", confidence=0.9),  # given, right
    row("fact", ["Lyon"], "Marseille [1].", confidence=0.8),  # given, wrong
    row("fact", ["Nice"], "", abstained=True),  # abstained on an answerable case
    row("unanswerable", [], "Toulouse [1].", confidence=0.7),  # given where none exists: wrong
    row("false_premise", [], "", abstained=True),  # the right abstention
    row("false_premise", [], "Oui, Bordeaux [1].", confidence=0.95),  # given on a false premise
    row("fact", [], "Rennes [1].", confidence=0.5),  # gold sources but no reference: not graded
]


def test_precision_coverage_and_abstention_by_type():
    s = selective_metrics(TABLE)
    # answers given on graded rows: Paris, Marseille, Toulouse, Bordeaux = 4, of which 1 right
    assert (s["answers_given"], s["right_answers"]) == (4, 1)
    assert s["precision_answered"] == pytest.approx(1 / 4)
    # answerable with references: Paris, Lyon, Nice; answers given on 2 of them
    assert s["coverage"] == pytest.approx(2 / 3)
    assert (s["abstained_unanswerable"], s["unanswerable_cases"]) == (0.0, 1)
    assert (s["abstained_false_premise"], s["false_premise_cases"]) == (0.5, 2)


def test_risk_coverage_sorts_by_confidence():
    curve = risk_coverage(TABLE)
    got = [(p["confidence"], p["answers"], p["coverage"], p["precision"]) for p in curve]
    want = [
        (0.95, 1, 0.0, 0.0),  # Bordeaux only: a wrong answer on a false premise
        (0.9, 2, 1 / 3, 1 / 2),  # + Paris
        (0.8, 3, 2 / 3, 1 / 3),  # + Marseille
        (0.7, 4, 2 / 3, 1 / 4),  # + Toulouse (unanswerable: no coverage gained)
    ]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g == pytest.approx(w)


def test_ties_make_one_point_and_no_confidence_makes_one_point():
    tied = [
        row("fact", ["Paris"], "Paris", confidence=0.5),
        row("fact", ["Lyon"], "Nice", confidence=0.5),
    ]
    assert [(p["answers"], p["precision"]) for p in risk_coverage(tied)] == [(2, 0.5)]
    unscored = [dict(r, confidence=None) for r in TABLE]
    assert risk_coverage(unscored) == [
        {"confidence": None, "answers": 4, "coverage": pytest.approx(2 / 3), "precision": 0.25}
    ]


def test_retrieval_only_lines_have_no_selective_metrics():
    lines = [dict(r, answer=None, abstained=None) for r in TABLE]
    assert "precision_answered" not in summarize(lines)
    assert risk_coverage(lines) == []


def test_the_text_summary_shows_them():
    text = format_summary(summarize(TABLE))
    assert "precision of answered" in text and "25.0%" in text
    assert "abstained on false premise (n=2)" in text and "50.0%" in text
    assert "confidence ≥ 0.950" in text and "precision 25.0% at coverage 66.7%" in text


def test_a_second_look_is_read_from_older_lines_too():
    """Lines written before `second_look` was recorded have its agreement 0 only."""
    from rag.evaluation.selective import second_look

    older = {"answer": "x", "signals": {"support": 1.0, "agreement": 0.0}}
    assert second_look(older) and not second_look({**older, "second_look": False})
    assert second_look({**older, "second_look": True}) and not second_look({"answer": "x"})
