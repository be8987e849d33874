"""What seeing other processes' ingests costs a running app: the version check made before a
question (at most every RAG_INDEX_REFRESH_S) and the reopen after a change.

    python benchmarks/index_refresh.py [--corpus seeds | PATH.jsonl] [--checks 200] [--reopens 100]

Indexes the corpus in a temporary folder with the fake embedder (the reopen reads every chunk and
rebuilds BM25; the embedder does not take part), then times `read_version` and a reopen
(a fresh Chroma client, all chunks read, BM25 built), each against a plain retrieval as the peer.
Then reopens `--reopens` times more and prints the process's resident memory and open files
before and after (a reopen leaves the old client to the garbage collector: this shows it is freed).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.core.offline import offline_environment


def _rss_mb() -> float:
    """Resident memory now (Linux /proc; -1 elsewhere): a peak would not show memory freed."""
    try:
        line = next(
            x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:")
        )
    except (OSError, StopIteration):
        return -1.0
    return int(line.split()[1]) / 1024


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=str(ROOT / "seeds"), help="a folder or a .jsonl corpus")
    p.add_argument("--checks", type=int, default=200)
    p.add_argument(
        "--reopens", type=int, default=100, help="reopens for the memory and open-file count"
    )
    args = p.parse_args()
    offline_environment()
    from rag.core.settings import Settings
    from rag.index.version import read_version
    from rag.pipeline import RAG
    from rag.testing.fakes import FakeLLM

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            sources=[Path(args.corpus)],
            index_dir=Path(tmp) / "index",
            embedder="fake",
            llm="fake",
            model_cache=Path(tmp) / "cache",
        )
        bot = RAG(settings, llm=FakeLLM())
        report = bot.ingest(progress=False)
        store = bot.retriever.store
        checks = []
        for _ in range(args.checks):
            start = time.perf_counter()
            read_version(store)
            checks.append(time.perf_counter() - start)
        searches = []
        for _ in range(20):
            start = time.perf_counter()
            bot.retrieve("Quel journal a révélé l'appel ?")
            searches.append(time.perf_counter() - start)
        reopens = []
        for _ in range(5):
            start = time.perf_counter()
            bot._reopen(wait=0)
            reopens.append(time.perf_counter() - start)
        gc.collect()
        before = (_rss_mb(), _open_files())
        for _ in range(args.reopens):
            bot._reopen(wait=0)
        gc.collect()
        after = (_rss_mb(), _open_files())
    check, search, reopen = (statistics.median(x) for x in (checks, searches, reopens))
    print(
        f"corpus {args.corpus}: {len(report.added)} documents, {len(bot.retriever.chunks)} chunks"
    )
    print(
        f"version check p50 {check * 1000:.2f} ms ({check / search:.3f} x a retrieval of p50 {search * 1000:.1f} ms)"
    )
    print(
        f"reopen p50 {reopen:.2f} s ({reopen / search:.0f} x a retrieval), once per change to the index"
    )
    print(
        f"{args.reopens} more reopens: resident memory {before[0]:.0f} -> {after[0]:.0f} MB, "
        f"open files {before[1]} -> {after[1]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
