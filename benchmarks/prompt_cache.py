"""Time to first token with and without reusing recent prompts' KV caches, in one process.

    python benchmarks/prompt_cache.py [--cases 30] [--new-tokens 16] [--order document]

Asks the seeds test set's questions in file order, as one user session would, each twice with
the default quantised model: once keeping only the system prompt's cache (the behaviour before
rag.llm.transformers.prompt_cache, "system"), once with the store of recent prompts ("recent"; it accumulates over
the session). Prints for each the time to first token p50/p95, prompt tokens and reused tokens,
their ratio, the memory the store holds, and whether both produced the same text. --order is
the passage order in the prompt (rank: best first; document: by source file and place).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=30)
    p.add_argument("--new-tokens", type=int, default=16)
    p.add_argument("--order", choices=["rank", "document"], default="document")
    args = p.parse_args()
    from rag.cli.main import offline_environment

    offline_environment()
    from rag.core.settings import Settings
    from rag.evaluation.runner import load_testset
    from rag.llm.transformers.prompt_cache import PromptCache
    from rag.pipeline import RAG
    from rag.text.language import detect

    bot = RAG(Settings(passage_order=args.order))
    llm = bot.llm
    llm.load()
    stores = {"system": PromptCache(0), "recent": llm.prompts}
    ttft: dict[str, list[float]] = {name: [] for name in stores}
    reused: dict[str, list[int]] = {name: [] for name in stores}
    lengths, same = [], 0
    cases = load_testset(ROOT / "evals" / "seeds.jsonl")[: args.cases]
    for case in cases:
        question = case["question"]
        passages = bot.in_prompt_order(bot.retrieve(question))
        messages = bot._messages(question, passages, detect(question))
        lengths.append(llm.count_tokens(messages))
        texts = []
        for name, store in stores.items():
            llm.prompts = store
            start, first, pieces = time.perf_counter(), None, []
            for piece in llm.stream(messages, args.new_tokens):
                first = first or time.perf_counter() - start
                pieces.append(piece)
            ttft[name].append(first or 0.0)
            reused[name].append(llm.reused_tokens)
            texts.append("".join(pieces))
        same += texts[0] == texts[1]
    llm.prompts = stores["recent"]
    print(
        f"{len(cases)} seeds questions in order, passages by {args.order}, "
        f"prompt tokens p50 {statistics.median(lengths):.0f}"
    )
    for name in stores:
        print(
            f"{name:>7}: first token p50 {statistics.median(ttft[name]):.2f} s, "
            f"p95 {pct(ttft[name], 0.95):.2f} s; reused tokens p50 {statistics.median(reused[name]):.0f}, "
            f"mean {statistics.mean(reused[name]):.0f}"
        )
    ratio = statistics.median(ttft["recent"]) / statistics.median(ttft["system"])
    kept = llm.prompts.tokens
    print(
        f"recent / system first token p50: {ratio:.2f}x; same first {args.new_tokens} tokens: "
        f"{same}/{len(cases)}; store holds {len(llm.prompts)} prompts, {kept} tokens"
    )


if __name__ == "__main__":
    main()
