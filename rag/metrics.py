"""Evaluation metrics: plain functions over strings, id lists and per-case result dicts.

Answer metrics follow the SQuAD evaluation script (normalise, then exact match / token F1), with
a normalisation extended to French. Retrieval metrics work on document ids in rank order.
`summarize` turns the result lines written by `rag.evaluate.run_eval` into one report dict.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# French articles and their elided forms ("l'", "d'" become "l", "d" once punctuation is a space),
# as in the French SQuAD-style scripts, plus the English ones. Dropping "de"/"d" also drops the
# preposition; that is harmless because prediction and answer are normalised alike. After accent
# stripping "à" becomes "a" and is dropped too, with the English article.
FRENCH_ARTICLES = frozenset({"le", "la", "les", "l", "un", "une", "des", "du", "de", "d"})
ARTICLES = FRENCH_ARTICLES | {"a", "an", "the"}

# The answer's citation markers: "[1]", "[2, 3]", "[1][2]".
_CITATION_MARKER = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")

# Ligatures that NFKD leaves whole.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


def normalize(text: str) -> str:
    """Drop case, accents, punctuation, articles, [n] markers: "L'Élysée [1]" -> "elysee"."""
    text = _CITATION_MARKER.sub(" ", text)
    text = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    chars = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Mn":  # combining accent left by NFKD
            continue
        # P*: punctuation, including « » ’ “ ” and apostrophes; S*: symbols (% € $ +)
        chars.append(" " if cat[0] in "PS" else ch)
    return " ".join(t for t in "".join(chars).split() if t not in ARTICLES)


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised texts are equal: ("la Seine", ["Seine", "Paris"]) -> 1.0."""
    pred = normalize(prediction)
    return max((float(pred == normalize(a)) for a in answers), default=0.0)


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        # SQuAD v2 convention: two empty strings agree, an empty and a non-empty one do not.
        return float(pred_tokens == gold_tokens)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best SQuAD token F1 over the answers: ("Emmanuel Macron", ["Macron"]) -> 0.667."""
    pred = normalize(prediction).split()
    return max((_f1(pred, normalize(a).split()) for a in answers), default=0.0)


def contains_answer(prediction: str, answers: Sequence[str]) -> bool:
    """An answer occurs as whole tokens: ("Il a visité l'Ukraine.", ["Ukraine"]) -> True."""
    pred = f" {normalize(prediction)} "
    # An answer that normalises to nothing (e.g. "un") would match everything, so it never matches.
    return any(norm and f" {norm} " in pred for norm in map(normalize, answers))


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def hit_at_k(ranked_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """1.0 when a gold id is among the first k distinct ones: (["a", "a", "b"], ["b"], 2) -> 1.0."""
    gold = set(gold_ids)
    return float(any(doc in gold for doc in _unique(ranked_ids)[:k]))


def reciprocal_rank(ranked_ids: Sequence[str], gold_ids: Iterable[str]) -> float:
    """1 / rank of the first gold document, duplicates removed: (["a", "a", "b"], ["b"]) -> 0.5."""
    gold = set(gold_ids)
    for rank, doc in enumerate(_unique(ranked_ids), start=1):
        if doc in gold:
            return 1.0 / rank
    return 0.0


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


def is_answerable(result: Mapping[str, Any]) -> bool:
    """True when a case has expected answers or gold sources, unless its type is "unanswerable"."""
    if result.get("type") == "unanswerable":
        return False
    return bool(result.get("expected") or result.get("gold_sources"))


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
        "source_cited": _mean(
            float(bool(set(r.get("cited_sources") or ()) & set(r["gold_sources"]))) for r in cited
        ),
        "false_abstention": _mean(float(bool(r["abstained"])) for r in answerable),
        "abstention_accuracy": _mean(float(bool(r["abstained"])) for r in unanswerable),
    }
    out.update(_latency((r.get("ttft_s") for r in answered), "ttft"))
    out.update(_latency((r.get("total_s") for r in answered), "total"))
    return out


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


def _secs(summary: Mapping[str, Any], name: str) -> str:
    p50, p95 = summary.get(f"{name}_p50_s"), summary.get(f"{name}_p95_s")
    if p50 is None or p95 is None:
        return "n/a"
    return f"{p50:.3f}s / {p95:.3f}s"


def format_summary(summary: Mapping[str, Any]) -> str:
    """The report as an aligned text table for the terminal."""
    s = summary
    mrr = "n/a" if s.get("mrr") is None else f"{s['mrr']:.3f}"
    rows: list[tuple[str, str]] = [
        ("cases", f"{s['cases']} ({s['answerable']} answerable, {s['unanswerable']} unanswerable)"),
        (f"retrieval (n={s['with_sources']} with gold sources)", ""),
        ("  hit@1", _pct(s.get("hit@1"))),
        ("  hit@5", _pct(s.get("hit@5"))),
        ("  MRR", mrr),
        ("  latency p50 / p95", _secs(s, "retrieval")),
    ]
    if "answered" in s:
        rows += [
            (f"answers (n={s['with_answers']} with reference answers)", ""),
            ("  exact match", _pct(s["exact_match"])),
            ("  token F1", _pct(s["f1"])),
            ("  contains answer", _pct(s["contains_answer"])),
            ("  right source cited", _pct(s["source_cited"])),
            ("abstention", ""),
            ("  on unanswerable (higher is better)", _pct(s["abstention_accuracy"])),
            ("  on answerable (lower is better)", _pct(s["false_abstention"])),
            ("latency p50 / p95", ""),
            ("  first token", _secs(s, "ttft")),
            ("  total", _secs(s, "total")),
        ]
    width = max(len(label) for label, value in rows if value) + 2
    return "\n".join(f"{label:<{width}}{value}".rstrip() for label, value in rows)
