"""The short answer on its own, measured: given the sentence that holds a gold answer, how often
the bundled model's constrained span choice (rag.answer.short) is that answer — exact match and
token F1 as `rag eval` scores them — and what one choice costs.

    python benchmarks/short_answer.py [--testset piaf|evals/seeds.jsonl] [--limit N] [--out FILE]

PIAF (default): the gold paragraph's sentence that contains the first gold answer (questions
whose answer crosses sentences are skipped and counted). Seeds: the first sentence of a gold
source that contains an accepted answer. This isolates the span choice from retrieval and from
the full answer; `rag eval` measures the whole chain. Default backend (RAG_LLM).
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

from rag.cli.main import offline_environment

PIAF = ROOT.parent / "shared" / "data" / "piaf"


def _cases(testset: str) -> list[dict]:
    """(id, question, answers, sentence) for each case whose answer lies in one sentence."""
    from rag.evaluation.metrics import normalize
    from rag.text.sentences import sentences

    if testset == "piaf":
        texts = {}
        for line in (PIAF / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts[row["id"]] = row["text"]
        rows = [
            json.loads(line)
            for line in (PIAF / "dev_questions.jsonl").read_text(encoding="utf-8").splitlines()
        ]
    else:
        texts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "seeds").glob("*.txt")}
        rows = [
            json.loads(line)
            for line in Path(testset).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    out = []
    for row in rows:
        if not row.get("answers"):
            continue
        wanted = [normalize(a) for a in row["answers"]]
        found = next(
            (
                s
                for src in row.get("sources", [])
                for s in sentences(texts.get(src, ""))
                if any(w and f" {w} " in f" {normalize(s)} " for w in wanted)
            ),
            None,
        )
        out.append(
            {
                "id": row["id"],
                "question": row["question"],
                "answers": row["answers"],
                "sentence": found,
            }
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--testset", default="piaf", help="piaf, or a JSONL test set over seeds/")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "short-answer.jsonl")
    args = p.parse_args()
    offline_environment()
    from rag.answer.short import extract, spans
    from rag.evaluation.metrics import exact_match, token_f1
    from rag.pipeline import RAG

    bot = RAG()
    bot.llm.load()
    cases = _cases(args.testset)
    skipped = sum(c["sentence"] is None for c in cases)
    cases = [c for c in cases if c["sentence"] is not None][: args.limit]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ems, f1s, secs, counts = [], [], [], []
    with args.out.open("w", encoding="utf-8") as f:
        for c in cases:
            start = time.perf_counter()
            short = extract(
                bot.llm, bot.settings.answer.prompts_dir, c["question"], [c["sentence"]]
            )
            secs.append(time.perf_counter() - start)
            ems.append(exact_match(short, c["answers"]))
            f1s.append(token_f1(short, c["answers"]))
            counts.append(len(spans(c["sentence"])))
            f.write(
                json.dumps(
                    {**c, "short": short, "em": ems[-1], "f1": f1s[-1], "s": secs[-1]},
                    ensure_ascii=False,
                )
                + "\n"
            )
            print(
                f"{c['id']}: {ems[-1]:.0f} {f1s[-1]:.2f} {secs[-1]:.2f}s {short!r} <- {c['answers'][0]!r}",
                flush=True,
            )
    n = len(cases)
    print(
        f"\n{n} cases ({skipped} skipped: no single sentence holds the answer), backend {bot.llm.name}\n"
        f"exact match {sum(ems) / n:.1%}, token F1 {sum(f1s) / n:.1%}\n"
        f"seconds per choice p50 {statistics.median(secs):.2f}, max {max(secs):.2f}; "
        f"spans offered p50 {statistics.median(counts):.0f}"
    )


if __name__ == "__main__":
    main()
