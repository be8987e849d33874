"""PIAF open retrieval: BM25, dense and latent terms alone, and the hybrid, measured in one run.

    python benchmarks/piaf_retrieval.py [--corpus PATH] [--questions PATH] [--index DIR] [--limit N]

Ingests the PIAF corpus (1,518 Wikipedia paragraphs, one document each) into its own index
(incremental: a second run embeds nothing), then asks every dev question against the whole corpus
with each fusion setting and prints hit@1, hit@5, MRR and retrieval latency.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.cli.main import offline_environment

PIAF = ROOT.parent / "shared" / "data" / "piaf"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=PIAF / "corpus.jsonl")
    p.add_argument("--questions", type=Path, default=PIAF / "dev_questions.jsonl")
    p.add_argument("--index", type=Path, default=ROOT / ".rag-piaf")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", type=Path, default=ROOT / "results")
    args = p.parse_args()
    offline_environment()
    from rag.core.settings import Settings
    from rag.evaluation.piaf import piaf_settings
    from rag.evaluation.runner import load_testset, run_eval
    from rag.pipeline import RAG

    # PIAF's configuration: one chunk a paragraph, sentence windows for dense, latent terms on.
    base = piaf_settings(Settings(), args.corpus, args.index)
    start = time.perf_counter()
    report = RAG(base).ingest()
    print(f"ingest: {report.summary()}; {time.perf_counter() - start:.1f}s wall")
    if report.chunks_embedded:
        print(f"ingest throughput: {report.chunks_embedded / report.seconds:.1f} passages/s")
    cases = load_testset(args.questions)
    rows = []
    for fusion in ("bm25", "dense", "latent", "rrf"):
        bot = RAG(base.updated(fusion=fusion, top_k=20))
        s = run_eval(
            bot,
            cases,
            args.out / f"piaf-{fusion}.jsonl",
            retrieval_only=True,
            limit=args.limit,
            progress=False,
        )
        rows.append(
            (fusion, s["hit@1"], s["hit@5"], s["mrr"], s["retrieval_p50_s"], s["retrieval_p95_s"])
        )
    print(f"\n{'retriever':<10} {'hit@1':>7} {'hit@5':>7} {'MRR':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for name, h1, h5, mrr, p50, p95 in rows:
        print(f"{name:<10} {h1:>7.1%} {h5:>7.1%} {mrr:>7.3f} {p50 * 1000:>8.1f} {p95 * 1000:>8.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nquestions: {s['with_sources']}; peak RSS {peak:.0f} MB; threads {base.generation.threads}; cpus {os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
