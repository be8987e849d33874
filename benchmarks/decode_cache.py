"""Decode speed with transformers' DynamicCache vs rag.llm.transformers.decode's DecodeCache, in one process.

    python benchmarks/decode_cache.py [--cases 8] [--new-tokens 48]

For each of the first --cases seeds questions, the real prompt (retrieved passages, ~1,000–1,150
tokens) is answered four times, alternating the two caches (DynamicCache, DecodeCache, twice), by
the default quantised model with the prefix cache off (both runs then prefill the same tokens).
Prints the milliseconds per generated token after the first (decode only) for each, their
medians, their ratio, and whether both caches produced the same text.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=8)
    p.add_argument("--new-tokens", type=int, default=48)
    args = p.parse_args()
    from rag.cli.main import offline_environment

    offline_environment()
    from transformers import DynamicCache

    from rag.core.settings import Settings
    from rag.evaluation.runner import load_testset
    from rag.pipeline import RAG
    from rag.text.language import detect

    bot = RAG(Settings(prefix_cache=False))
    llm = bot.llm
    llm.load()
    fast_cache = llm._new_cache
    caches = {
        "DynamicCache": lambda: DynamicCache(config=llm._model.config),
        "DecodeCache": fast_cache,
    }
    times: dict[str, list[float]] = {name: [] for name in caches}
    same = True
    for case in load_testset(ROOT / "evals" / "seeds.jsonl")[: args.cases]:
        question = case["question"]
        messages = bot._messages(question, bot.retrieve(question), detect(question))
        texts = {}
        for name in [*caches, *caches]:
            llm._new_cache = caches[name]
            _start, first, pieces = time.perf_counter(), None, []
            for piece in llm.stream(messages, args.new_tokens):
                first = first or time.perf_counter()
                pieces.append(piece)
            end = time.perf_counter()
            text = "".join(pieces)
            tokens = llm.count_tokens(text)
            if first and tokens > 1:
                times[name].append(1000 * (end - first) / (tokens - 1))
            same &= texts.setdefault(name, text) == text
        same &= texts["DynamicCache"] == texts["DecodeCache"]
        print(
            f"{case['id']}: {llm.count_tokens(messages)} prompt tokens; ms/token "
            + ", ".join(f"{n} {' '.join(f'{t:.1f}' for t in times[n][-2:])}" for n in caches),
            flush=True,
        )
    llm._new_cache = fast_cache
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:<13} median {value:.1f} ms/token ({1000 / value:.1f} tokens/s)")
    print(
        f"DecodeCache / DynamicCache time per token: {medians['DecodeCache'] / medians['DynamicCache']:.2f}; "
        f"same text: {same}"
    )


if __name__ == "__main__":
    main()
