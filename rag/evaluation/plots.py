"""The report's charts, drawn with matplotlib (Agg backend, imported only when a report is made).

Each function takes result lines (and their per-case scores) and returns an SVG document.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rag.core.errors import BackendError
from rag.evaluation.diagnosis import Score
from rag.evaluation.metrics import first_gold_rank, is_answerable, token_f1

MAX_RANK = 10
COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise BackendError(
            "the report charts need matplotlib: run 'pip install -e \".[eval]\"'"
        ) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(fig)
    return buf.getvalue()


def inline_svg(svg: str) -> str:
    """An SVG document as an element for an HTML page: no XML prolog, metadata or namespace URLs
    (HTML5 needs none of them), so the page has no external address at all."""
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg).strip()


def _empty(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def score_distributions(
    results: Sequence[Mapping[str, Any]], scores: Sequence[Mapping[str, Score]]
) -> str:
    """Histograms (0-1) of nDCG@10, token F1, faithfulness and (when computed) semantic
    similarity."""
    series: dict[str, list[float | None]] = {
        "retrieval nDCG@10": [s["retrieval"].value for s in scores],
        "answer token F1": [
            0.0 if r["abstained"] else token_f1(r["answer"], r["expected"])
            for r in results
            if r.get("answer") is not None and is_answerable(r) and r.get("expected")
        ],
        "faithfulness": [s["faithfulness"].value for s in scores],
    }
    if any(s["semantic"].value is not None for s in scores):
        series["semantic similarity"] = [s["semantic"].value for s in scores]
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(series), figsize=(3.2 * len(series), 2.6), squeeze=False)
    for ax, (name, values), color in zip(axes[0], series.items(), COLORS, strict=False):
        values = [v for v in values if v is not None]
        ax.set_title(f"{name} (n={len(values)})")
        if not values:
            _empty(ax)
            continue
        ax.hist(values, bins=[i / 10 for i in range(11)], color=color, edgecolor="white")
        ax.set_xlim(0, 1)
        ax.set_xlabel("score")
    axes[0][0].set_ylabel("cases")
    return _svg(fig)


def latency_histograms(results: Sequence[Mapping[str, Any]]) -> str:
    """Histograms of retrieval time (ms), time to first token and total time (s)."""
    series = [
        (
            "retrieval (ms)",
            [1000 * r["retrieval_s"] for r in results if r.get("retrieval_s") is not None],
        ),
        ("first token (s)", [r["ttft_s"] for r in results if r.get("ttft_s") is not None]),
        ("total (s)", [r["total_s"] for r in results if r.get("total_s") is not None]),
    ]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 2.6))
    for ax, (name, values), color in zip(axes, series, COLORS, strict=False):
        ax.set_title(f"{name} (n={len(values)})")
        if values:
            ax.hist(values, bins=15, color=color, edgecolor="white")
        else:
            _empty(ax, "not measured")
    axes[0].set_ylabel("cases")
    return _svg(fig)


def type_bars(rows: Sequence[Mapping[str, Any]], metrics: Sequence[tuple[str, str]]) -> str:
    """Grouped bars: one group per question type, one bar per metric (rates 0-1)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(rows) + 1), 2.8))
    width = 0.8 / max(len(metrics), 1)
    for i, ((key, label), color) in enumerate(zip(metrics, COLORS, strict=False)):
        xs = [j + i * width for j in range(len(rows))]
        ax.bar(xs, [row.get(key) or 0.0 for row in rows], width, label=label, color=color)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))])
    ax.set_xticklabels([f"{row['type']}\n(n={row['cases']})" for row in rows])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate")
    ax.set_title("by question type")
    ax.legend(
        fontsize=7, ncols=min(len(metrics), 3), loc="upper center", bbox_to_anchor=(0.5, -0.22)
    )
    return _svg(fig)


def rank_histogram(results: Sequence[Mapping[str, Any]]) -> str:
    """How many answerable cases have their first gold document at rank 1, 2, …, or not in the
    top 10."""
    ranks = [
        first_gold_rank(r.get("retrieved_sources") or [], r["gold_sources"])
        for r in results
        if is_answerable(r) and r.get("gold_sources")
    ]
    labels = [str(k) for k in range(1, MAX_RANK + 1)] + ["miss"]
    counts = [sum(r == k for r in ranks) for k in range(1, MAX_RANK + 1)]
    counts.append(sum(r is None or r > MAX_RANK for r in ranks))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    ax.bar(labels, counts, color=COLORS[:1] * MAX_RANK + [COLORS[3]])
    ax.set_xlabel(f"rank of the first gold document (miss: not in the top {MAX_RANK})")
    ax.set_ylabel("cases")
    ax.set_title(f"retrieval rank (n={len(ranks)})")
    return _svg(fig)


def risk_coverage(curve: Sequence[Mapping[str, Any]]) -> str:
    """Precision of the answers kept against the coverage they reach (`selective.risk_coverage`).

    One point when the answers carry no confidence (the run as it is), a curve when they do.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    points = [p for p in curve if p["coverage"] is not None and p["precision"] is not None]
    if not points:
        _empty(ax, "no answers given")
    else:
        xs = [100 * p["coverage"] for p in points]
        ys = [100 * p["precision"] for p in points]
        ax.plot(xs, ys, marker="o", markersize=3, color=COLORS[0])
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel("coverage: answerable cases given an answer (%)")
        ax.set_ylabel("precision of answered (%)")
    ax.set_title("risk–coverage" + ("" if len(points) > 1 else " (one point: no confidence)"))
    return _svg(fig)
