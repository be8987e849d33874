"""Evidence first, measured: how often the bundled model, its decoding constrained to the
sentences of the retrieved passages, copies one that states the answer, and how well its
probability of NONE tells unanswerable questions apart (the threshold curve).

    python benchmarks/evidence_choice.py [--testset evals/seeds.jsonl] [--limit N] [--out FILE]

Uses the default index (run `rag ingest` first) and the default backend. A sentence "states the
answer" when it contains one of the case's accepted answers (folded, as `rag eval` matches).
Prints per-case lines to --out (JSONL) and the summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.cli.main import offline_environment  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--testset", type=Path, default=ROOT / "evals" / "seeds.jsonl")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "evidence-choice.jsonl")
    args = p.parse_args()
    offline_environment()
    from rag.answer.evidence import NONE, candidates, choice_messages
    from rag.evaluation.metrics import normalize
    from rag.evaluation.runner import load_testset
    from rag.pipeline import RAG

    bot = RAG()
    bot.warm(prime=True)
    cases = load_testset(args.testset)[: args.limit]
    rows = []
    for case in cases:
        passages = bot.in_prompt_order(bot.retrieve(case["question"]))
        found = [s.text for s in candidates(passages)]
        answers = [normalize(a) for a in case.get("answers") or []]
        gold = [s for s in found if any(a and a in normalize(s) for a in answers)]
        messages = choice_messages(bot.settings.answer.prompts_dir, case["question"], passages)
        start = time.perf_counter()
        probs = bot.llm.choose(messages, found, NONE)
        seconds = time.perf_counter() - start
        best = max(found, key=probs.get) if found else ""
        rows.append(
            {
                "id": case["id"],
                "answerable": case.get("type") != "unanswerable",
                "sentences": len(found),
                "gold": len(gold),
                "hit": best in gold,
                "p_best": probs.get(best, 0.0),
                "p_none": probs[NONE],
                "p_gold": sum(probs[s] for s in gold),
                "seconds": seconds,
                "chosen": best,
            }
        )
        print(
            f"{case['id']:10} hit={best in gold!s:5} p={probs.get(best, 0):.2f} none={probs[NONE]:.2f} {seconds:.2f}s {best[:70]}",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    summary(rows)


def summary(rows: list[dict]) -> None:
    answerable = [r for r in rows if r["answerable"]]
    with_gold = [r for r in answerable if r["gold"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    pct = lambda k, n: f"{100 * k / n:.1f} % ({k}/{n})" if n else "n/a"  # noqa: E731
    print(
        f"\ncases {len(rows)}: {len(answerable)} answerable ({len(with_gold)} with a sentence holding an "
        f"accepted answer), {len(unanswerable)} unanswerable"
    )
    print(
        "best sentence states the answer   ", pct(sum(r["hit"] for r in with_gold), len(with_gold))
    )
    print(
        "mean probability on such sentences",
        f"{statistics.mean(r['p_gold'] for r in with_gold):.2f}" if with_gold else "n/a",
    )
    print(
        "P(NONE) > 0.5 on those            ",
        pct(sum(r["p_none"] > 0.5 for r in with_gold), len(with_gold)),
    )
    print(
        "P(NONE) > 0.5 on unanswerable     ",
        pct(sum(r["p_none"] > 0.5 for r in unanswerable), len(unanswerable)),
    )
    print(
        "choice time p50 / max            ",
        f"{statistics.median(r['seconds'] for r in rows):.2f} s / {max(r['seconds'] for r in rows):.2f} s",
    )
    print("\nabstain when P(NONE) > t:  t | false abstention (answerable) | unanswerable abstained")
    for t in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7):
        fa = sum(r["p_none"] > t for r in answerable)
        ua = sum(r["p_none"] > t for r in unanswerable)
        print(
            f"                      {t:4.2f} | {pct(fa, len(answerable)):>28} | {pct(ua, len(unanswerable))}"
        )


if __name__ == "__main__":
    main()
