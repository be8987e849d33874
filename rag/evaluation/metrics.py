"""Evaluation metrics: plain functions over strings, id lists and per-case result dicts.

Answer metrics follow the SQuAD evaluation script (normalise, then exact match / token F1), with
a normalisation extended to French. Retrieval metrics work on document ids in rank order.
Faithfulness (`rag.evaluation.faithfulness`) checks each answer sentence against the passages it
cites; selective answering (`rag.evaluation.selective`) scores the answers given against the cases
that had one.
`summarize` turns the result lines written by `rag.evaluation.runner.run_eval` into one report dict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rag.evaluation.faithfulness import (  # noqa: F401 - re-exported: callers import them here
    SUPPORTED_SHARE,
    cited_passages,
    faithfulness,
    faithfulness_metrics,
    sentence_verdict,
)
from rag.evaluation.selective import (
    is_answerable,
    selective_metrics,
    selective_rows,
)
from rag.evaluation.squad import (  # noqa: F401 - the answer scores live there, used from here
    ARTICLES,
    FRENCH_ARTICLES,
    contains_answer,
    exact_match,
    normalize,
    token_f1,
)
from rag.text.normalize import MARKER


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def hit_at_k(ranked_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """1.0 when a gold id is among the first k distinct ones: (["a", "a", "b"], ["b"], 2) -> 1.0."""
    gold = set(gold_ids)
    return float(any(doc in gold for doc in _unique(ranked_ids)[:k]))


def reciprocal_rank(ranked_ids: Sequence[str], gold_ids: Iterable[str]) -> float:
    """1 / rank of the first gold document, duplicates removed: (["a", "a", "b"], ["b"]) -> 0.5."""
    rank = first_gold_rank(ranked_ids, gold_ids)
    return 1.0 / rank if rank else 0.0


# -- ranking, citations, abstention, speed ------------------------------------------------


def first_gold_rank(ranked_ids: Sequence[str], gold_ids: Iterable[str]) -> int | None:
    """1-based rank of the first gold document, duplicates removed.

    (["a", "a", "b"], ["b"]) -> 2."""
    gold = set(gold_ids)
    for rank, doc in enumerate(_unique(ranked_ids), start=1):
        if doc in gold:
            return rank
    return None


def ndcg_at_k(ranked_ids: Sequence[str], gold_ids: Iterable[str], k: int = 10) -> float:
    """Binary-relevance nDCG over distinct ids: (["a", "b"], ["b"]) -> 0.631 (1 / log2(3)).

    Every gold document counts once; the ideal ranking puts all of them (up to k) first.
    """
    gold = set(gold_ids)
    if not gold:
        return 0.0
    dcg = sum(1 / math.log2(i + 1) for i, d in enumerate(_unique(ranked_ids)[:k], 1) if d in gold)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def citation_precision(cited: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of cited documents that are gold: (["a", "b"], ["a"]) -> 0.5; nothing cited -> None."""
    cited, gold = set(cited), set(gold)
    return len(cited & gold) / len(cited) if cited else None


def citation_recall(cited: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of gold documents that are cited: (["a"], ["a", "b"]) -> 0.5; no gold -> None."""
    cited, gold = set(cited), set(gold)
    return len(cited & gold) / len(gold) if gold else None


def precision_recall(
    predicted: Sequence[bool], actual: Sequence[bool]
) -> tuple[float | None, float | None]:
    """Precision and recall of a yes/no label; None when undefined.

    ([1, 1, 0], [1, 0, 1]) -> (0.5, 0.5)"""
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    said, real = sum(map(bool, predicted)), sum(map(bool, actual))
    return (tp / said if said else None), (tp / real if real else None)


def words_per_second(text: str | None, ttft_s: float | None, total_s: float | None) -> float | None:
    """Decoding speed in whitespace words (not model tokens) after the first token.

    ("a b c", 1.0, 2.0) -> 2.0: two words after the first in one second. None when not timed.
    """
    if not text or ttft_s is None or total_s is None or total_s <= ttft_s:
        return None
    return max(len(text.split()) - 1, 0) / (total_s - ttft_s)


def semantic_similarity(answer: str, expected: Sequence[str], embedder: Any) -> float | None:
    """Best cosine similarity between the answer and a reference answer, by `embedder.query`.

    Any embedder of rag.index.embed works (the bundled e5-small loads a model: only on request).
    """
    text = MARKER.sub(" ", answer).strip()
    if not text or not expected:
        return None
    vector = embedder.query(text)
    return max(float(vector @ embedder.query(e)) for e in expected)


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0-100), linearly interpolated: ([1, 2, 3, 4], 50) -> 2.5; [] -> nan."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def _latency(values: Iterable[float | None], name: str) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return {f"{name}_p50_s": None, f"{name}_p95_s": None}
    return {f"{name}_p50_s": percentile(present, 50), f"{name}_p95_s": percentile(present, 95)}


def _retrieval_metrics(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    scored = [r for r in results if is_answerable(r) and r.get("gold_sources")]
    out: dict[str, Any] = {"with_sources": len(scored)}
    for k in (1, 5):
        hits = (hit_at_k(r["retrieved_sources"], r["gold_sources"], k) for r in scored)
        out[f"hit@{k}"] = _mean(hits)
    out["mrr"] = _mean(reciprocal_rank(r["retrieved_sources"], r["gold_sources"]) for r in scored)
    out["ndcg@10"] = _mean(ndcg_at_k(r["retrieved_sources"], r["gold_sources"]) for r in scored)
    out.update(_latency((r.get("retrieval_s") for r in results), "retrieval"))
    return out


def _answer_metrics(answered: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in answered if is_answerable(r)]
    unanswerable = [r for r in answered if not is_answerable(r)]
    graded = [r for r in answerable if r.get("expected")]
    cited = [r for r in answerable if r.get("gold_sources")]

    def score(metric: Any, r: Mapping[str, Any]) -> float:
        return 0.0 if r["abstained"] else float(metric(r["answer"], r["expected"]))

    out: dict[str, Any] = {
        "answered": len(answered),
        "with_answers": len(graded),
        "abstained": sum(bool(r["abstained"]) for r in answered),
        "exact_match": _mean(score(exact_match, r) for r in graded),
        "f1": _mean(score(token_f1, r) for r in graded),
        "contains_answer": _mean(score(contains_answer, r) for r in graded),
        # the short answer (Answer.short, a span of a cited sentence) against the gold spans, as
        # SQuAD scores a reader; None for results written before short answers existed
        **_short_metrics(graded),
        "source_cited": _mean(
            float(bool(set(r.get("cited_sources") or ()) & set(r["gold_sources"]))) for r in cited
        ),
        "false_abstention": _mean(float(bool(r["abstained"])) for r in answerable),
        "abstention_accuracy": _mean(float(bool(r["abstained"])) for r in unanswerable),
    }
    conflicts = [r for r in answered if r.get("sides")]
    out["conflict"] = _mean(float(says_both(r)) for r in conflicts)  # None without conflict cases
    out["conflict_cases"] = len(conflicts)
    out.update(_citation_metrics(cited))
    out.update(_abstention_metrics(answered))
    out.update(faithfulness_metrics(answered))
    out.update(selective_metrics(answered))
    out.update(_latency((r.get("ttft_s") for r in answered), "ttft"))
    out.update(_latency((r.get("total_s") for r in answered), "total"))
    rates = [words_per_second(r.get("draft"), r.get("ttft_s"), r.get("total_s")) for r in answered]
    speeds = [v for v in rates if v is not None]
    out["decode_words_per_s"] = percentile(speeds, 50) if speeds else None
    similar = [r["semantic_similarity"] for r in graded if r.get("semantic_similarity") is not None]
    if similar:
        out["semantic_similarity"] = _mean(similar)
    return out


def says_both(result: Mapping[str, Any]) -> bool:
    """A conflict case answered as one should: not withheld, and every account (`sides`) said
    (one of its strings in the answer) and cited (one of its sources, where it lists any)."""
    if result.get("abstained") or not result.get("answer"):
        return False
    cited = set(result.get("cited_sources") or ())
    return all(
        contains_answer(result["answer"], side["answers"])
        and (not side["sources"] or bool(cited & set(side["sources"])))
        for side in result["sides"]
    )


def _short_metrics(graded: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    # None: not sought; a conflict's accounts (rag.answer.conflicts) are no span, nor scored as one
    scored = (
        [r for r in graded if not r.get("conflict")]
        if any(r.get("short") is not None for r in graded)
        else []
    )
    if not scored:
        return {"short_exact_match": None, "short_f1": None, "short_cases": 0}

    def score(metric: Any, r: Mapping[str, Any]) -> float:
        return (
            0.0
            if r["abstained"] or not r.get("short")
            else float(metric(r["short"], r["expected"]))
        )

    return {
        "short_exact_match": _mean(score(exact_match, r) for r in scored),
        "short_f1": _mean(score(token_f1, r) for r in scored),
        "short_cases": len(scored),
        "short_p50_s": percentile(
            (r["short_s"] for r in scored if r.get("short_s") is not None), 50
        ),
    }


def _citation_metrics(cited: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Over answerable cases with gold sources; precision only where something is cited."""
    pairs = [(r.get("cited_sources") or [], r["gold_sources"]) for r in cited]
    precisions = [citation_precision(c, g) for c, g in pairs]
    return {
        "citation_precision": _mean(p for p in precisions if p is not None),
        "citation_recall": _mean(citation_recall(c, g) or 0.0 for c, g in pairs),
    }


def _abstention_metrics(answered: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The positive class is "unanswerable": precision = abstentions that were right."""
    predicted = [bool(r["abstained"]) for r in answered]
    actual = [not is_answerable(r) for r in answered]
    precision, recall = precision_recall(predicted, actual)
    return {"abstention_precision": precision, "abstention_recall": recall}


def summarize(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts, rates (0-1) and latencies (s) over result lines; None where nothing is measured.

    Retrieval metrics cover answerable cases with gold sources. Answer metrics appear only when
    some result has an answer; an abstention scores 0 on EM, F1 and contains-answer.
    """
    answerable = sum(is_answerable(r) for r in results)
    summary: dict[str, Any] = {
        "cases": len(results),
        "answerable": answerable,
        "unanswerable": len(results) - answerable,
    }
    summary.update(_retrieval_metrics(results))
    answered = [r for r in results if r.get("answer") is not None]
    if answered:
        summary.update(_answer_metrics(answered))
    return summary


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _secs(summary: Mapping[str, Any], name: str) -> str:
    p50, p95 = summary.get(f"{name}_p50_s"), summary.get(f"{name}_p95_s")
    if p50 is None or p95 is None:
        return "n/a"
    return f"{p50:.3f}s / {p95:.3f}s"


def format_summary(summary: Mapping[str, Any]) -> str:
    """The report as an aligned text table for the terminal."""
    s = summary
    mrr = _num(s.get("mrr"))
    rows: list[tuple[str, str]] = [
        ("cases", f"{s['cases']} ({s['answerable']} answerable, {s['unanswerable']} unanswerable)"),
        (f"retrieval (n={s['with_sources']} with gold sources)", ""),
        ("  hit@1", _pct(s.get("hit@1"))),
        ("  hit@5", _pct(s.get("hit@5"))),
        ("  MRR", mrr),
        ("  nDCG@10", _num(s.get("ndcg@10"))),
        ("  latency p50 / p95", _secs(s, "retrieval")),
    ]
    if "answered" in s:
        rows += [
            (f"answers (n={s['with_answers']} with reference answers)", ""),
            ("  exact match", _pct(s["exact_match"])),
            ("  token F1", _pct(s["f1"])),
            ("  contains answer", _pct(s["contains_answer"])),
            (
                "  short answer exact match / F1",
                f"{_pct(s.get('short_exact_match'))} / {_pct(s.get('short_f1'))}",
            ),
            ("  right source cited", _pct(s["source_cited"])),
            (
                f"  conflicts said, both sides cited (n={s.get('conflict_cases', 0)})",
                _pct(s.get("conflict")),
            ),
            (
                "  citation precision / recall",
                f"{_pct(s['citation_precision'])} / {_pct(s['citation_recall'])}",
            ),
            (
                f"  faithfulness (n={s['faithfulness_cases']} with cited passages)",
                _pct(s["faithfulness"]),
            ),
        ]
        if "semantic_similarity" in s:
            rows.append(("  semantic similarity (cosine)", _num(s["semantic_similarity"])))
        rows += selective_rows(s)
        rows += [
            ("abstention", ""),
            ("  on unanswerable (higher is better)", _pct(s["abstention_accuracy"])),
            ("  on answerable (lower is better)", _pct(s["false_abstention"])),
            (
                "  precision / recall (unanswerable)",
                f"{_pct(s['abstention_precision'])} / {_pct(s['abstention_recall'])}",
            ),
            ("latency p50 / p95", ""),
            ("  first token", _secs(s, "ttft")),
            ("  total", _secs(s, "total")),
            (
                "  short answer (p50)",
                "n/a" if math.isnan(s.get("short_p50_s", math.nan)) else f"{s['short_p50_s']:.2f}s",
            ),
            ("  decoding (words/s, p50)", _num(s["decode_words_per_s"], 1)),
        ]
    width = max(len(label) for label, value in rows if value) + 2
    return "\n".join(f"{label:<{width}}{value}".rstrip() for label, value in rows)
