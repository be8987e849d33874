"""Usage: python benchmarks/repick_short.py IN.jsonl OUT.jsonl [IN.jsonl OUT.jsonl ...]

The short answer of the current code on recorded `rag eval` rows: each given answer whose
question asks a kind (rag.answer.citations.asked_kinds) gets its short answer chosen again by
rag.answer.short.pick from the row's cited quotes and full answer (one constrained choice each,
default backend RAG_LLM); the row's short answer, the model's probabilities and `focus` are
updated and written to OUT, the other rows copied. Prints each change, then per set how many
given answers' short answers contain a reference answer before and after; the confidence of OUT
is then read with benchmarks/confidence_curves.py or benchmarks/ablation.py.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.cli.main import offline_environment


def main(argv: list[str]) -> int:
    if not argv or len(argv) % 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    offline_environment()
    from rag.answer.citations import asked_kinds
    from rag.answer.confidence import focus
    from rag.answer.short import pick
    from rag.core.settings import Settings
    from rag.evaluation.faithfulness import cited_passages
    from rag.evaluation.selective import given, is_answerable
    from rag.evaluation.squad import contains_answer
    from rag.llm.registry import build_llm

    settings = Settings()
    llm = build_llm(settings)
    llm.load()
    for src, dst in zip(argv[::2], argv[1::2], strict=True):
        before = after = graded = picked = 0
        begun = time.perf_counter()
        with open(dst, "w", encoding="utf-8") as out:
            for line in open(src, encoding="utf-8"):
                row = json.loads(line)
                old = row.get("short") or ""
                if given(row) and row.get("citations") and asked_kinds(row["question"]):
                    quotes = [c["quote"] for c in row["citations"]]
                    p = pick(
                        llm, settings.answer.prompts_dir, row["question"], quotes, row["answer"]
                    )
                    if p.text != old:
                        print(f"{row.get('id')}: {old!r} -> {p.text!r}", flush=True)
                    passages = cited_passages(row)
                    signals = dict(row.get("signals") or {})
                    signals.update(
                        chosen=p.chosen,
                        no_answer=p.no_answer,
                        focus=focus(row["question"], p.text or None, quotes, passages),
                    )
                    row = {**row, "short": p.text, "signals": signals}
                    picked += 1
                if given(row) and is_answerable(row) and row.get("expected"):
                    graded += 1
                    before += contains_answer(old, row["expected"])
                    after += contains_answer(row.get("short") or "", row["expected"])
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        seconds = time.perf_counter() - begun
        print(
            f"{src}: {picked} re-picked in {seconds:.0f} s; short answers holding a reference "
            f"answer {before}/{graded} -> {after}/{graded}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
