"""Measure the transformers backend: load time, time to first token, decode speed, peak RSS.

    python benchmarks/generate.py                       # the real cache (~/.cache/rag-news)
    python benchmarks/generate.py --cache /tmp/fresh    # an empty cache: measures the conversion

Run it twice to see the cold (converting) and the warm load. The prompt is French news text from
seeds/ cut to about --prompt-tokens tokens, then a question; decoding is greedy. Decode speed
counts the tokens of the streamed text after the first piece arrives. Only `time` and `resource`
do the measuring.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.core.settings import Settings
from rag.llm.transformers.model import TransformersLLM

SYSTEM = "Réponds en français, uniquement d'après les passages, en citant [n]."
# A summary request, so the reply is long enough to time the decoding.
QUESTION = "Question : Résume ces articles en cinq phrases détaillées."


def build_messages(llm: TransformersLLM, target_tokens: int) -> list[dict[str, str]]:
    """System + user messages whose text is about `target_tokens` tokens long."""
    words: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        words += path.read_text(encoding="utf-8").split()
    budget = target_tokens - llm.count_tokens(SYSTEM + QUESTION) - 20
    lo, hi = 0, len(words)
    while lo < hi:  # the longest word prefix that fits the budget
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if llm.count_tokens(" ".join(words[:mid])) <= budget else (lo, mid - 1)
    user = f"[1] {' '.join(words[:lo])}\n\n{QUESTION}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def measure(llm: TransformersLLM, messages: list[dict[str, str]], new_tokens: int) -> str:
    """One greedy run; returns a report line."""
    start = time.perf_counter()
    first = None
    pieces = []
    for piece in llm.stream(messages, new_tokens):
        first = first or time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    text = "".join(pieces)
    n = llm.count_tokens(text)
    assert first is not None, "no output"
    rate = (n - 1) / (end - first) if end > first else float("nan")
    return (
        f"first token {first - start:.2f} s, {n} tokens in {len(pieces)} pieces, "
        f"decode {rate:.2f} tok/s, total {end - start:.1f} s | {text[:80]!r}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Settings().generation.model_cache)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=400)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    settings = Settings(model_cache=args.cache, threads=args.threads, llm="transformers")
    llm = TransformersLLM(settings)
    llm.load()
    kind = "first load, converted the GGUF" if llm.converted else "warm load"
    print(f"load: {llm.load_seconds:.1f} s ({kind}) from {llm.model_path}")
    print(f"peak RSS after load: {_peak_rss_gb():.2f} GB")

    messages = build_messages(llm, args.prompt_tokens)
    print(
        f"prompt: {llm.count_tokens(messages)} tokens (chat template included), threads {args.threads}"
    )
    for run in range(1, args.runs + 1):
        print(f"run {run}: {measure(llm, messages, args.new_tokens)}")
    print(f"peak RSS: {_peak_rss_gb():.2f} GB")


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


if __name__ == "__main__":
    main()
