"""Usage: python benchmarks/ablation.py [--threshold T] NAME=RESULTS.jsonl ...

What each check and each confidence signal withholds, right and wrong, replayed on the rows
`rag eval` wrote (with RAG_MIN_CONFIDENCE=0, so that every answer keeps its confidence). A row
keeps the model's draft and the passages in the order the model saw them (`passages`): the
draft is cited again (rag.pipeline.reply.cited_draft) and **every** rule of rag.answer.checks
is run on it, not only the first that fails, so that a rule's own share shows:

- *withholds*: drafts the rule fails, split into right (the draft contains a reference answer
  of an answerable case) and wrong (it does not, or the case has no answer);
- *alone*: drafts only this rule fails: what dropping the rule would let through.

Signals, on the answers given (they passed the checks): the confidence built from one signal
alone (the others counted 1, rag.answer.confidence.combine) below the threshold, right and
wrong; then the shipped combination. Also what the conflict answers, the second look
(`retry_withheld`: a passing second draft, `second_look`) and the off-topic rule did.

A draft is graded as written: a draft the second look replaced is not in the row (its
passages are), so the rules are replayed on the draft the row has.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import replace
from typing import Any

from rag.answer import checks
from rag.answer.citations import MARKER
from rag.answer.confidence import combine
from rag.core.settings import Settings
from rag.core.types import Passage, Signals
from rag.evaluation.selective import (
    NO_ANSWER_TYPES,
    given,
    is_answerable,
    is_right,
    row_signals,
    second_look,
)
from rag.pipeline.reply import cited_draft
from rag.text.language import detect


def passages_of(row: dict[str, Any]) -> list[Passage]:
    return [Passage(**{**p, "dated": tuple(p.get("dated") or ())}) for p in row["passages"]]


def grade(row: dict[str, Any], text: str) -> str | None:
    """'right', 'wrong', or None when the case cannot be graded (answerable, no reference)."""
    if row.get("type") not in NO_ANSWER_TYPES and not (is_answerable(row) and row.get("expected")):
        return None
    drafted = {**row, "answer": MARKER.sub("", text), "abstained": False}
    return "right" if is_right(drafted) else "wrong"


def replay(rows: list[dict[str, Any]], settings: Settings) -> tuple[Counter, Counter, Counter]:
    """Per rule: (fires, alone) counters keyed (code, grade); and the drafts' grades."""
    fires: Counter = Counter()
    alone: Counter = Counter()
    drafts: Counter = Counter()
    for row in rows:
        raw = row.get("draft") or ""
        if not row.get("passages") or not raw.strip():
            continue
        question = row["question"]
        text, _, drafted = cited_draft(settings, question, detect(question), raw, passages_of(row))
        if isinstance(drafted, checks.Withheld) and drafted.code == "no-answer":
            drafts["refused"] += 1
            continue
        verdict = grade(row, text)
        if verdict is None:
            continue
        drafts[verdict] += 1
        if isinstance(drafted, checks.Withheld):
            failed = [drafted.code]
        else:
            failed = [r.code for r in checks.RULES if r.fails and r.fails(drafted) is not None]
        if not failed:
            drafts[f"passes:{verdict}"] += 1
        for code in failed:
            fires[code, verdict] += 1
        if len(failed) == 1:
            alone[failed[0], verdict] += 1
    return fires, alone, drafts


ONLY = {
    "premise": lambda s: Signals(support=1.0, premise=s.premise, missing=s.missing),
    "support": lambda s: Signals(support=s.support, key_support=s.key_support),
    "model (1 − P(NO_ANSWER))": lambda s: Signals(support=1.0, no_answer=s.no_answer),
    "agreement": lambda s: Signals(support=1.0, agreement=s.agreement),
    "focus": lambda s: Signals(support=1.0, focus=s.focus),
    "all (as shipped)": lambda s: s,
    "all but the model": lambda s: replace(s, no_answer=None),
    "all but the premise": lambda s: replace(s, missing=(), premise=1.0),
    "all but focus": lambda s: replace(s, focus=None),
}


def signal_table(rows: list[dict[str, Any]], threshold: float) -> list[str]:
    answered = [(r, row_signals(r)) for r in rows if given(r) and r.get("signals")]
    lines = [
        f"| signal (answers given: {len(answered)}) | withholds right | withholds wrong |",
        "|---|---:|---:|",
    ]
    for name, only in ONLY.items():
        right = wrong = 0
        for row, s in answered:
            assert s is not None
            if combine(only(s)) < threshold:
                if is_right(row):
                    right += 1
                else:
                    wrong += 1
        lines.append(f"| {name} < {threshold} | {right} | {wrong} |")
    return lines


def others(rows: list[dict[str, Any]]) -> list[str]:
    said = [r for r in rows if given(r) and r.get("conflict")]
    again = [r for r in rows if given(r) and second_look(r)]
    off = [r for r in rows if r.get("withheld") == "off-topic"]
    lines = []
    lines.append(
        f"- conflict answers: {len(said)} given, {sum(map(is_right, said))} right "
        f"({sum(r.get('type') in NO_ANSWER_TYPES for r in said)} on no-answer cases)"
    )
    lines.append(
        f"- second look (`retry_withheld`): {len(again)} answers from the second draft, "
        f"{sum(map(is_right, again))} right"
    )
    lines.append(
        f"- off-topic (no model call): {len(off)} cases, "
        f"{sum(is_answerable(r) for r in off)} of them answerable"
    )
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=Settings().answer.min_confidence)
    parser.add_argument("sets", nargs="+", help="NAME=RESULTS.jsonl")
    args = parser.parse_args(argv)
    settings = Settings()
    loaded = {}
    for item in args.sets:
        name, _, path = item.partition("=")
        loaded[name] = [json.loads(line) for line in open(path, encoding="utf-8")]
    codes = [checks.NO_CITATION.code, *(r.code for r in checks.RULES), "unknown-file"]
    results = {name: replay(rows, settings) for name, rows in loaded.items()}
    print("## Checks replayed on every draft (right / wrong withheld; alone: only rule failing)\n")
    head = " | ".join(f"{n}: withholds | {n}: alone" for n in loaded)
    print(f"| check | {head} |")
    print("|---|" + "---:|---:|" * len(loaded))
    for code in codes:
        cells = []
        for fires, alone, _ in results.values():
            cells.append(f"{fires[code, 'right']} / {fires[code, 'wrong']}")
            cells.append(f"{alone[code, 'right']} / {alone[code, 'wrong']}")
        print(f"| {code} | " + " | ".join(cells) + " |")
    print()
    for name, (_, _, drafts) in results.items():
        print(
            f"- {name}: {drafts['right'] + drafts['wrong']} graded drafts "
            f"({drafts['right']} right, {drafts['wrong']} wrong), {drafts['refused']} NO_ANSWER; "
            f"passing every check: {drafts['passes:right']} right, {drafts['passes:wrong']} wrong"
        )
    for name, rows in loaded.items():
        print(f"\n## {name}: confidence signals at {args.threshold}\n")
        print("\n".join(signal_table(rows, args.threshold)))
        print()
        print("\n".join(others(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
