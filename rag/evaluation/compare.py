"""Two runs side by side: metric deltas (A, B, B − A) and the cases whose outcome flipped.

print(compare(load_results("a.jsonl"), load_results("b.jsonl")))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rag.core.errors import InputError
from rag.evaluation.diagnosis import Score, abstention_score, answer_score, source_score
from rag.evaluation.metrics import summarize

Result = Mapping[str, Any]

# (summary key, label, kind): "rate" prints as %, "score" as 0.000, "seconds" as s.
METRICS = [
    ("hit@1", "retrieval hit@1", "rate"),
    ("hit@5", "retrieval hit@5", "rate"),
    ("mrr", "retrieval MRR", "score"),
    ("ndcg@10", "retrieval nDCG@10", "score"),
    ("contains_answer", "contains answer", "rate"),
    ("f1", "token F1", "rate"),
    ("short_exact_match", "short answer EM", "rate"),
    ("short_f1", "short answer F1", "rate"),
    ("conflict", "conflicts said", "rate"),
    ("source_cited", "right source cited", "rate"),
    ("citation_precision", "citation precision", "rate"),
    ("citation_recall", "citation recall", "rate"),
    ("faithfulness", "faithfulness", "rate"),
    ("semantic_similarity", "semantic similarity", "score"),
    ("abstention_accuracy", "abstained on unanswerable", "rate"),
    ("false_abstention", "abstained on answerable", "rate"),
    ("retrieval_p50_s", "retrieval p50", "seconds"),
    ("ttft_p50_s", "first token p50", "seconds"),
    ("total_p50_s", "total p50", "seconds"),
]
FLIPS: dict[str, Callable[[Result], Score]] = {
    "contains answer": answer_score,
    "right source": source_score,
    "abstention": abstention_score,
}


def check_same_testset(
    a: Sequence[Result], b: Sequence[Result], names: tuple[str, str] = ("A", "B")
) -> list[str]:
    """The ids both runs share, in A's order; InputError when they come from different test sets.

    Runs from one test set may cover different cases (--limit), but a shared id must ask the same
    question.
    """
    questions = {r["id"]: r["question"] for r in b}
    shared = [r["id"] for r in a if r["id"] in questions]
    if not shared:
        raise InputError(
            f"{names[0]} and {names[1]} share no case id — they are from different test sets"
        )
    for r in a:
        if r["id"] in questions and questions[r["id"]] != r["question"]:
            raise InputError(
                f"case {r['id']!r} asks different questions in {names[0]} and {names[1]} — "
                "they are from different test sets"
            )
    return shared


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    return {"rate": f"{100 * value:.1f}%", "score": f"{value:.3f}", "seconds": f"{value:.2f}s"}[
        kind
    ]


def _delta(a: float | None, b: float | None, kind: str) -> str:
    if a is None or b is None:
        return ""
    d = b - a
    return {"rate": f"{100 * d:+.1f} pt", "score": f"{d:+.3f}", "seconds": f"{d:+.2f}s"}[kind]


def metric_table(sa: Mapping[str, Any], sb: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(label, A, B, B − A) for every metric either summary has."""
    return [
        (
            label,
            _fmt(sa.get(key), kind),
            _fmt(sb.get(key), kind),
            _delta(sa.get(key), sb.get(key), kind),
        )
        for key, label, kind in METRICS
        if sa.get(key) is not None or sb.get(key) is not None
    ]


def flips(
    a: Sequence[Result], b: Sequence[Result], ids: Sequence[str]
) -> dict[str, list[tuple[str, Score, Score]]]:
    """Per metric, the cases scored differently in A and B: [(id, A's score, B's score)]."""
    by_a, by_b = {r["id"]: r for r in a}, {r["id"]: r for r in b}
    out: dict[str, list[tuple[str, Score, Score]]] = {}
    for name, score in FLIPS.items():
        pairs = [(i, score(by_a[i]), score(by_b[i])) for i in ids]
        out[name] = [
            (i, x, y) for i, x, y in pairs if None not in (x.value, y.value) and x.value != y.value
        ]
    return out


def _improved(x: Score, y: Score) -> bool:
    """Whether B's score `y` beats A's `x`; both are measured in a flip."""
    if x.value is None or y.value is None:
        raise ValueError("a flip compares two measured scores")
    return y.value > x.value


def _short(text: Any, limit: int = 70) -> str:
    text = " ".join(str("(retrieval only)" if text is None else text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def compare(a: Sequence[Result], b: Sequence[Result], names: tuple[str, str] = ("A", "B")) -> str:
    """The comparison as text for the terminal."""
    ids = check_same_testset(a, b, names)
    shared = set(ids)
    sa = summarize([r for r in a if r["id"] in shared])
    sb = summarize([r for r in b if r["id"] in shared])
    lines = [f"A = {names[0]}", f"B = {names[1]}", f"{len(ids)} shared cases"]
    only = len(a) - len(ids), len(b) - len(ids)
    if any(only):
        lines[-1] += f" ({only[0]} only in A, {only[1]} only in B: left out)"
    rows = [("metric", "A", "B", "B − A"), *metric_table(sa, sb)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines += [""] + [
        f"{r[0]:<{widths[0]}}  " + "  ".join(f"{r[i]:>{widths[i]}}" for i in (1, 2, 3))
        for r in rows
    ]
    by_a, by_b = {r["id"]: r for r in a}, {r["id"]: r for r in b}
    for name, changed in flips(a, b, ids).items():
        better = sum(_improved(x, y) for _, x, y in changed)
        lines += [
            "",
            f"{name}: {len(changed)} flipped ({better} better in B, {len(changed) - better} worse)",
        ]
        for i, x, y in changed:
            mark = "+" if _improved(x, y) else "-"
            lines.append(f"  {mark} {i}: A {x.reason} → B {y.reason}")
            lines.append(f"      A: {_short(by_a[i].get('answer'))}")
            lines.append(f"      B: {_short(by_b[i].get('answer'))}")
    return "\n".join(lines)
