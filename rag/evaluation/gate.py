"""The retrieval quality gate: measure hit@1 / hit@5 / MRR on fixed suites, compare with the
thresholds recorded in `evals/thresholds.json`, and name every metric that dropped.

Suites (retrieval only, real embedder): the seeds test set over `seeds/`, and the first PIAF dev
questions over a fixed PIAF subset (their gold paragraphs plus the first others of the corpus).
Each suite builds its own index under a work folder (incremental), so the gate measures exactly
the setup its thresholds were recorded for, from a clean checkout too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.core.errors import InputError
from rag.core.settings import Settings

THRESHOLDS = Path("evals/thresholds.json")  # relative to the working directory (a checkout)
WORKDIR = Path(".rag-gate")
METRICS = ("hit@1", "hit@5", "mrr")
SETUP_KEYS = ("embedder", "top_k", "piaf_questions", "piaf_paragraphs")


def load_thresholds(path: str | Path = THRESHOLDS) -> dict[str, Any]:
    """{"setup": {...}, "thresholds": {suite: {metric: min}}, ...}; InputError when malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read thresholds {path}: {exc}") from None
    setup, thresholds = data.get("setup", {}), data.get("thresholds", {})
    missing = [k for k in SETUP_KEYS if k not in setup]
    if missing or not isinstance(thresholds, dict) or not thresholds:
        raise InputError(
            f"{path}: needs 'setup' with {', '.join(SETUP_KEYS)} and 'thresholds' per suite"
        )
    for suite, values in thresholds.items():
        bad = [m for m in values if m not in METRICS]
        if bad:
            raise InputError(
                f"{path}: unknown metric(s) {', '.join(bad)} for {suite}; use {', '.join(METRICS)}"
            )
    return data


def measure(
    base: Settings,
    setup: dict[str, Any],
    workdir: Path,
    seeds: Path,
    testset: Path,
    corpus: Path,
    questions: Path,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Build (or update) each suite's index under workdir and run it retrieval-only.

    Returns {suite: summary}."""
    from rag.evaluation.piaf import piaf_settings, subset_corpus
    from rag.evaluation.runner import load_testset, run_eval
    from rag.index.embed import build_embedder
    from rag.pipeline import RAG

    if base.index.embedder != setup["embedder"]:
        raise InputError(
            f"the thresholds were recorded with embedder {setup['embedder']!r}, "
            f"not {base.index.embedder!r} "
            "— run the gate with that embedder, or record thresholds for this one"
        )
    base = base.updated(top_k=setup["top_k"])
    subset = subset_corpus(
        corpus,
        questions,
        workdir / "piaf-subset.jsonl",
        setup["piaf_questions"],
        setup["piaf_paragraphs"],
    )
    suites = {
        "seeds": (
            base.updated(sources=[Path(seeds)], index_dir=workdir / "seeds"),
            load_testset(testset),
            None,
        ),
        "piaf": (
            piaf_settings(base, subset, workdir / "piaf"),
            load_testset(questions),
            setup["piaf_questions"],
        ),
    }
    embedder = build_embedder(base)
    measured = {}
    for name, (settings, cases, limit) in suites.items():
        bot = RAG(settings, embedder=embedder)
        bot.ingest(progress=progress)
        out = workdir / f"{name}.jsonl"
        measured[name] = run_eval(
            bot, cases, out, retrieval_only=True, limit=limit, progress=progress
        )
    return measured


def failures(
    measured: dict[str, dict[str, Any]], thresholds: dict[str, dict[str, float]]
) -> list[str]:
    """One line per metric below its threshold: "piaf hit@5 dropped to 88.0% (threshold 90.0%)"."""
    out = []
    for suite, limits in thresholds.items():
        for metric, minimum in limits.items():
            value = measured.get(suite, {}).get(metric)
            if value is None:
                out.append(f"{suite} {metric} was not measured (threshold {_fmt(metric, minimum)})")
            elif value < minimum:
                out.append(
                    f"{suite} {metric} dropped to {_fmt(metric, value)} "
                    f"(threshold {_fmt(metric, minimum)})"
                )
    return out


def _fmt(metric: str, value: float) -> str:
    return f"{value:.3f}" if metric == "mrr" else f"{100 * value:.1f}%"


def format_gate(
    measured: dict[str, dict[str, Any]], thresholds: dict[str, dict[str, float]]
) -> str:
    """A table: suite, metric, measured, threshold, ok / FAIL."""
    lines = [f"{'suite':<7} {'metric':<6} {'measured':>9} {'threshold':>9}"]
    for suite, limits in thresholds.items():
        for metric, minimum in limits.items():
            value = measured.get(suite, {}).get(metric)
            shown = "n/a" if value is None else _fmt(metric, value)
            verdict = "ok" if value is not None and value >= minimum else "FAIL"
            lines.append(f"{suite:<7} {metric:<6} {shown:>9} {_fmt(metric, minimum):>9}  {verdict}")
    return "\n".join(lines)


def record(
    path: str | Path,
    recorded: dict[str, Any],
    measured: dict[str, dict[str, Any]],
    margin: float = 0.02,
) -> None:
    """Rewrite the thresholds file: the measured values, and thresholds `margin` below them
    (rounded down to 0.005), for the suites and metrics it already lists."""
    import datetime
    import math

    limits = recorded["thresholds"]
    thresholds = {
        suite: {m: math.floor((measured[suite][m] - margin) * 200) / 200 for m in limits[suite]}
        for suite in limits
    }
    values = {suite: {m: round(measured[suite][m], 4) for m in limits[suite]} for suite in limits}
    data = {
        **recorded,
        "thresholds": thresholds,
        "measured": values,
        "recorded_on": datetime.date.today().isoformat(),
    }
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
