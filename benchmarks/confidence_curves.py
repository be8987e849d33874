"""Usage: python benchmarks/confidence_curves.py RESULTS.jsonl[@INDEX_DIR[@SOURCES_JSON]] ...

Risk–coverage of the confidence on `rag eval` rows (run with RAG_MIN_CONFIDENCE=0), with the
signals each row recorded: the confidence recomputed by rag.answer.confidence.combine under a
few variants, and the metrics at thresholds (answers below one counted as abstentions). With an
index, `missing` is recomputed over the passages retrieved now (rows written before the result
lines kept their passages); without, the rows' own signals are used."""

import json
import statistics
import sys
from dataclasses import replace

from rag.answer.confidence import combine
from rag.evaluation.selective import (
    given,
    is_answerable,
    is_right,
    row_signals,
    selective_metrics,
)


def load(path):
    return [json.loads(line) for line in open(path)]


from rag.answer.confidence import is_number


def signals(row):
    return row_signals(row)


VARIANTS = {
    "combine (as shipped)": lambda s: combine(s),
    "without agreement": lambda s: combine(replace(s, agreement=None)),
    "without model prob": lambda s: combine(replace(s, no_answer=None)),
    "without premise": lambda s: combine(replace(s, missing=())),
    "without focus": lambda s: combine(replace(s, focus=None)),
    "support only": lambda s: combine(replace(s, missing=(), no_answer=None, agreement=None)),
    "x chosen": lambda s: combine(s) * (s.chosen if s.chosen is not None else 1.0),
}


def at(rows, conf, t):
    out = []
    for r in rows:
        r = dict(r)
        if given(r) and r.get("signals") is not None:
            r["confidence"] = conf(signals(r))
            if r["confidence"] < t:
                r["abstained"] = True
        out.append(r)
    return out


def f(v):
    return "n/a" if v is None else f"{100 * v:.1f} %"


def table(rows, conf, thresholds):
    print(
        "| threshold | answers | precision of answered | coverage | abst. unanswerable | abst. false premise |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for t in thresholds:
        m = selective_metrics(at(rows, conf, t))
        print(
            f"| {t:.2f} | {m['answers_given']} ({m['right_answers']} right) | {f(m['precision_answered'])} "
            f"| {f(m['coverage'])} | {f(m['abstained_unanswerable'])} | {f(m['abstained_false_premise'])} |"
        )


def recompute_missing(rows, index_dir, sources):
    """`missing` over the retrieved passages with the current code (retrieval is deterministic:
    the same passages the answer was drafted from)."""
    import os

    os.environ["RAG_INDEX_DIR"] = index_dir
    if sources:
        os.environ["RAG_SOURCES"] = sources
    from rag.answer.confidence import missing_terms
    from rag.core.settings import Settings
    from rag.pipeline import RAG
    from rag.text.language import detect

    bot = RAG(Settings())
    for r in rows:
        if r.get("signals") is None:
            continue
        shown = [f"{p.title}\n{p.prompt_text}" for p in bot.retrieve(r["question"])]
        missing = missing_terms(r["question"], shown)
        if shown and detect(r["question"]) != detect(" ".join(shown)):
            missing = tuple(t for t in missing if is_number(t))
        r["signals"]["missing"] = list(missing)


def main(paths):
    thresholds = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    for arg in paths:
        path, index_dir, sources = (arg.split("@") + ["", ""])[:3]
        rows = load(path)
        if index_dir:
            recompute_missing(rows, index_dir, sources)
        print(f"\n## {path}: {len(rows)} rows")
        ttft = [r["ttft_s"] for r in rows if r.get("ttft_s") is not None]
        total = [r["total_s"] for r in rows if r.get("total_s") is not None]
        cs = [r["confidence_s"] for r in rows if r.get("confidence_s") is not None]
        sh = [r["short_s"] for r in rows if r.get("short_s") is not None]
        print(
            f"first token p50 {statistics.median(ttft):.2f} s, total p50 {statistics.median(total):.2f} s, "
            f"short p50 {statistics.median(sh):.2f} s, confidence (2nd draft) p50 {statistics.median(cs):.2f} s over {len(cs)}"
        )
        for name, conf in VARIANTS.items():
            print(f"\n### {name}")
            table(rows, conf, thresholds)
        print("\n### given answers: signals")
        for r in rows:
            if given(r):
                s = signals(r)
                kind = (
                    "right"
                    if is_right(r)
                    else ("WRONG-noanswer" if not is_answerable(r) else "wrong")
                )
                print(
                    f"{r['id']:12} {kind:15} conf={combine(s):.2f} prem={s.premise:.2f} miss={list(s.missing)} "
                    f"sup={s.support:.2f} key={s.key_support} ch={s.chosen and round(s.chosen, 2)} "
                    f"no={s.no_answer!r:.8} agr={s.agreement} foc={s.focus} short={r['short']!r}"
                )


main(sys.argv[1:])
