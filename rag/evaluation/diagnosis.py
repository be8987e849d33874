"""Per-case scores with a reason, so a person sees why a case failed.

Each score reads one result line (as `rag.evaluation.runner.run_eval` writes it) and gives a value
in 0-1 (None when it does not apply) and a few words: "gold 001.txt at rank 3", "abstained", "cites
002.txt, gold is 000.txt". The report and `rag eval compare` show them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rag.evaluation.metrics import (
    cited_passages,
    contains_answer,
    first_gold_rank,
    is_answerable,
    ndcg_at_k,
    sentence_verdict,
)
from rag.text.sentences import sentences


@dataclass(frozen=True)
class Score:
    """One metric for one case: its value (None when it does not apply) and why, in a few words."""

    value: float | None
    reason: str


def short_id(doc_id: str) -> str:
    """A document id without its hash: "000_b3fd78398ee6b0e0.txt" -> "000.txt"."""
    return re.sub(r"^([^_]+)_[0-9a-f]{8,}(\.\w+)?$", r"\1\2", doc_id)


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(short_id(i) for i in ids) or "nothing"


def retrieval_score(result: Mapping[str, Any]) -> Score:
    """nDCG@10 of the retrieved documents: Score(0.5, "gold 001.txt at rank 3")."""
    gold, ranked = result.get("gold_sources") or [], result.get("retrieved_sources") or []
    if not is_answerable(result) or not gold:
        return Score(None, "no gold sources")
    rank = first_gold_rank(ranked, gold)
    if rank is None:
        return Score(0.0, f"no gold document retrieved (gold {_ids(gold)}; got {_ids(ranked[:3])})")
    return Score(
        ndcg_at_k(ranked, gold),
        f"gold {short_id(list(dict.fromkeys(ranked))[rank - 1])} at rank {rank}",
    )


def answer_score(result: Mapping[str, Any]) -> Score:
    """Contains an accepted answer: Score(0.0, "abstained"), Score(1.0, "contains 'EDF'")."""
    expected = result.get("expected") or []
    if result.get("answer") is None or not is_answerable(result) or not expected:
        return Score(None, "no reference answer")
    if result["abstained"]:
        return Score(0.0, "abstained")
    found = [a for a in expected if contains_answer(result["answer"], [a])]
    if found:
        return Score(1.0, f"contains {found[0]!r}")
    return Score(
        0.0,
        f"lacks {expected[0]!r}"
        + (f" (or {len(expected) - 1} variants)" if len(expected) > 1 else ""),
    )


def source_score(result: Mapping[str, Any]) -> Score:
    """A gold document is cited: Score(0.0, "cites 002.txt, gold is 000.txt")."""
    gold = result.get("gold_sources") or []
    if result.get("answer") is None or not is_answerable(result) or not gold:
        return Score(None, "no gold sources")
    cited = result.get("cited_sources") or []
    if result["abstained"] or not cited:
        return Score(0.0, "abstained" if result["abstained"] else "cites nothing")
    right = [c for c in cited if c in gold]
    if right:
        return Score(1.0, f"cites gold {_ids(right)}")
    return Score(0.0, f"cites {_ids(cited)}, gold is {_ids(gold)}")


def abstention_score(result: Mapping[str, Any]) -> Score:
    """1 when the case was answered or withheld as it should be, with which mistake otherwise."""
    if result.get("answer") is None:
        return Score(None, "retrieval only")
    answerable, abstained = is_answerable(result), bool(result["abstained"])
    if answerable:
        return (
            Score(0.0, "abstained on an answerable question")
            if abstained
            else Score(1.0, "answered")
        )
    return (
        Score(1.0, "rightly abstained")
        if abstained
        else Score(0.0, "answered an unanswerable question")
    )


def faithfulness_score(result: Mapping[str, Any]) -> Score:
    """Share of supported sentences, naming the first unsupported one and why."""
    if result.get("answer") is None or result["abstained"]:
        return Score(None, "no answer")
    passages = cited_passages(result)
    if not passages:
        return Score(None, "no cited passage text in the result")
    question = result.get("question") or ""
    verdicts = [(s, *sentence_verdict(s, passages, question)) for s in sentences(result["answer"])]
    checked = [(s, ok, why) for s, ok, why in verdicts if ok is not None]
    if not checked:
        return Score(None, "nothing to check")
    value = sum(ok for _, ok, _ in checked) / len(checked)
    reason = f"{sum(ok for _, ok, _ in checked)}/{len(checked)} sentences supported"
    bad = next(((s, why) for s, ok, why in checked if not ok), None)
    if bad:
        reason += f"; unsupported: «{_shorten(bad[0], 80)}» ({bad[1]})"
    return Score(value, reason)


def semantic_score(result: Mapping[str, Any]) -> Score:
    """The `semantic_similarity` a run with --semantic stored on the line, if any."""
    value = result.get("semantic_similarity")
    return Score(value, "not computed" if value is None else f"cosine {value:.2f} to the reference")


SCORES = {
    "retrieval": retrieval_score,
    "answer": answer_score,
    "source": source_score,
    "abstention": abstention_score,
    "faithfulness": faithfulness_score,
    "semantic": semantic_score,
}


def case_scores(result: Mapping[str, Any]) -> dict[str, Score]:
    """Every per-case score of a result line, by name (see SCORES)."""
    return {name: score(result) for name, score in SCORES.items()}


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
