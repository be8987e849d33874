"""Which answer checks still pay: each rule of rag.answer.checks.RULES taken out in turn, over
the drafts of an eval run, re-checked offline (no model: the drafts are in the results file).

    python benchmarks/check_value.py results/seeds.jsonl
    python benchmarks/check_value.py --piaf results/piaf.jsonl      # a `rag eval piaf` run

For each rule, the drafts it alone withholds (they pass every other rule) are counted as the
answers the rule costs (they contain an accepted answer) and the ones it saves (they do not, or
the case has no answer in the articles). A rule that costs more right answers than it stops
wrong ones does not pay. The passages are retrieved again with the same index and settings as
the run (retrieval is deterministic); `--index` and the RAG_ settings must match the run's.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rag.answer import checks
from rag.core.settings import Settings
from rag.evaluation import piaf
from rag.evaluation.metrics import contains_answer
from rag.pipeline import RAG


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a `rag eval --out` results file")
    parser.add_argument("--index", type=Path, default=None, help="the run's index folder")
    parser.add_argument(
        "--piaf", action="store_true", help="a `rag eval piaf` run (its settings; index .rag-piaf)"
    )
    args = parser.parse_args()
    settings = Settings(**({"index_dir": args.index} if args.index else {}))
    if args.piaf:
        settings = piaf.piaf_settings(settings, piaf.corpus_path(), args.index or piaf.INDEX)
    bot = RAG(settings, llm=object())  # the checks below never call the model (verify is off)
    rows = [
        json.loads(line)
        for line in args.results.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    every = checks.RULES
    first, cost, save, seen = Counter(), Counter(), Counter(), 0
    for r in rows:
        if not r.get("draft") or r.get("conflict"):
            continue
        seen += 1
        question, lang = r["question"], r.get("lang") or "fr"
        passages = bot.in_prompt_order(bot.retrieve(question))
        _text, _, withheld = bot.check(question, lang, r["draft"], passages)
        if not withheld:
            continue
        first[withheld.code] += 1
        for rule in every:
            checks.RULES = tuple(x for x in every if x is not rule)
            try:
                alone, _, still = bot.check(question, lang, r["draft"], passages)
            finally:
                checks.RULES = every
            if still:
                continue
            right = bool(r.get("expected")) and contains_answer(alone, r["expected"])
            (cost if right else save)[rule.code] += 1
    print(
        f"{args.results}: {len(rows)} cases, {seen} drafts re-checked, {sum(first.values())} withheld"
    )
    print(f"{'rule':<12} {'withholds first':>15} {'alone: right':>13} {'alone: wrong':>13}  pays?")
    for rule in every:
        c, s = cost[rule.code], save[rule.code]
        verdict = "yes" if s > c else ("no" if c > s else ("-" if not c else "even"))
        print(f"{rule.code:<12} {first[rule.code]:>15} {c:>13} {s:>13}  {verdict}")
    other = {k: v for k, v in first.items() if k not in {x.code for x in every}}
    if other:
        print("withheld before the rules:", ", ".join(f"{k} {v}" for k, v in sorted(other.items())))


if __name__ == "__main__":
    main()
