"""An archive at scale: ingest rate, peak memory, index size, retrieval latency, app start, resume.

    python benchmarks/archive_scale.py synth --from ../shared/data/wikinews-fr/articles.jsonl \\
        --n 10000 --out /tmp/synth-10k.jsonl
    nice -n 10 python benchmarks/archive_scale.py run --corpus CORPUS.jsonl --embedder e5-small \\
        --index /tmp/idx [--queries 100] [--resume-at 0.5] [--app] --out result.json

`synth` builds a synthetic archive from a real one: each new article takes the paragraphs of
randomly drawn articles (as many paragraphs as a random real article has; their datelines taken
out), a new id, the date and dateline of another random article, and a title made of a real title
and its number.

`run` measures, each step in its own child process so that its peak RSS (os.wait4) is its own:
1. `rag ingest CORPUS` into an empty index: wall time, articles/s, chunks/s, peak RSS;
2. the index's size on disk;
3. retrieval only (no generation, `RAG.retrieve`, the fake LLM): the first question (opens the
   index: reads every chunk, builds BM25) apart, then p50/p95 over `--queries` article titles,
   with hit@5 (the titled article among the 5 passages);
4. `--app`: `python -m rag.ui.app` on the built index until its page answers HTTP 200;
5. `--resume-at F`: a fresh ingest SIGKILLed after F of the first ingest's time, the records it
   committed counted, then rerun: what the rerun embeds, and what the kill lost.
Public tools only: time, os.wait4, psutil, subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def synth(source: Path, n: int, out: Path, seed: int = 0) -> None:
    rng = random.Random(seed)
    real = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    paragraphs = [[p.strip() for p in r["text"].split("\n\n")[1:] if p.strip()] for r in real]
    datelines = [_dateline(ps) for ps in paragraphs]
    pool = [DATELINE.sub("", p, count=1).strip() for ps in paragraphs for p in ps]
    pool = [p for p in pool if len(p) > 40]
    with out.open("w", encoding="utf-8") as f:
        for i in range(n):
            j = rng.randrange(len(real))  # lends its date and dateline
            k = max(1, len(rng.choice(paragraphs)))
            title = f"{rng.choice(real)['title']} ({i})"
            body = rng.sample(pool, k)
            if datelines[j]:
                body[0] = f"{datelines[j]} {body[0]}"
            text = "\n\n".join([title, *body])
            record = {"id": f"synth-{i:05d}", "title": title, "text": text, "date": real[j]["date"]}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{out}: {n} articles from {len(pool)} paragraphs of {len(real)} articles")


DATELINE = re.compile(r"^[^\n]{0,40}?\d{4}[^\n.]{0,20}\s*\.\s*[–—-]\s*")  # "2 mars 2017 . – "


def _dateline(paragraphs: list[str]) -> str:
    """A Wikinews article's dateline ("2 mars 2017, 14h30 . –"), or ""."""
    m = DATELINE.match(paragraphs[0]) if paragraphs else None
    return m.group().strip() if m else ""


def child(args: list[str], env: dict[str, str]) -> tuple[str, str, float, float]:
    """Run a child to its end: stdout, stderr, wall seconds, its peak RSS in MB (os.wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        sys.exit(f"child failed ({proc.returncode}): {' '.join(args)}\n{errors[-2000:]}")
    return text, errors, wall, usage.ru_maxrss / 1024


def environment(a: argparse.Namespace, index: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAG_LLM": "fake",
        "RAG_EMBEDDER": a.embedder,
        "RAG_INDEX_DIR": str(index),
        "RAG_SOURCES": json.dumps([str(a.corpus)]),
    }


INGEST = [PY, "-m", "rag.cli.main", "ingest"]
REPORT = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, .*\((\d+) chunks embedded")


def ingest(a: argparse.Namespace, index: Path) -> dict:
    out, err, wall, rss = child(INGEST, environment(a, index))
    added, _, unchanged, chunks = map(int, REPORT.search(out).groups())
    return {
        "articles": added,
        "unchanged": unchanged,
        "chunks": chunks,
        "wall_s": round(wall, 1),
        "articles_per_s": round(added / wall, 2),
        "chunks_per_s": round(chunks / wall, 2),
        "peak_rss_mb": round(rss),
        "last_progress": [ln for ln in re.split(r"[\r\n]", err) if "Embedding" in ln][-1:],
    }


RETRIEVE = textwrap.dedent(
    """
    import json, sys, time
    from rag.core.settings import Settings
    from rag.pipeline import RAG
    questions = json.loads(sys.argv[1])
    start = time.perf_counter()
    bot = RAG(Settings())
    bot.retrieve(questions[0][1])
    first = time.perf_counter() - start
    times, hits = [], 0
    for doc_id, q in questions[1:]:
        t = time.perf_counter()
        passages = bot.retrieve(q, top_k=5)
        times.append(time.perf_counter() - t)
        hits += any(p.source == doc_id for p in passages)
    print(json.dumps({"first_s": first, "times": times, "hits": hits}))
    """
)


def retrieval(a: argparse.Namespace, index: Path) -> dict:
    records = [json.loads(line) for line in a.corpus.read_text(encoding="utf-8").splitlines()]
    chosen = random.Random(1).sample(records, a.queries + 1)
    questions = [(r["id"], r["title"]) for r in chosen]
    out, _, _, rss = child([PY, "-c", RETRIEVE, json.dumps(questions)], environment(a, index))
    got = json.loads(out.strip().splitlines()[-1])
    ms = sorted(1000 * t for t in got["times"])
    return {
        "queries": len(ms),
        "open_and_first_s": round(got["first_s"], 2),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
        "hit_at_5": round(got["hits"] / len(ms), 3),
        "peak_rss_mb": round(rss),
    }


def app_start(a: argparse.Namespace, index: Path) -> dict:
    """Seconds from `python -m rag.ui.app` until its page answers 200, and its RSS then."""
    import httpx
    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = environment(a, index) | {"RAG_PORT": str(port)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [PY, "-m", "rag.ui.app"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        served = time.perf_counter() - start
        rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"until_page_served_s": round(served, 1), "rss_when_served_mb": round(rss)}


COUNT = textwrap.dedent(
    """
    import json
    from rag.core.settings import Settings
    from rag.index.embed import build_embedder
    from rag.index.store import INCOMPLETE, Store
    s = Settings()
    store = Store(s, build_embedder(s).id)
    hashes = store.document_hashes()
    complete = {d for d, h in hashes.items() if len(h) == 1 and INCOMPLETE not in h}
    chunks = [c.doc_id for c in store.all_chunks()]
    print(json.dumps({"docs": len(complete), "docs_partial": len(hashes) - len(complete),
                      "chunks_complete": sum(d in complete for d in chunks)}))
    """
)


def resume(a: argparse.Namespace, index: Path, full: dict) -> dict:
    """Kill a fresh ingest after `resume_at` of the full run's time, then rerun it."""
    killed = index.with_name(index.name + "-resume")
    env = environment(a, killed)
    proc = subprocess.Popen(INGEST, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(a.resume_at * full["wall_s"])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = json.loads(child([PY, "-c", COUNT], env)[0].strip().splitlines()[-1])
    rerun = ingest(a, killed)
    return {
        "killed_after_s": round(a.resume_at * full["wall_s"], 1),
        "at_kill": at_kill,
        "rerun": rerun,
        # chunks embedded twice: the rerun's minus what was missing after the kill
        "re_embedded_chunks": rerun["chunks"] - (full["chunks"] - at_kill["chunks_complete"]),
    }


def disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def run(a: argparse.Namespace) -> None:
    index = Path(a.index)
    if not a.ingested and index.exists() and any(index.iterdir()):
        sys.exit(f"{index} is not empty: give a new folder")
    result: dict = {"corpus": str(a.corpus), "embedder": a.embedder}
    # --ingested: the index is already built; its ingest line (JSON) from the earlier run
    result["ingest"] = full = json.loads(a.ingested) if a.ingested else ingest(a, index)
    print(json.dumps(result["ingest"]), flush=True)
    result["index_mb"] = round(disk_mb(index), 1)
    result["retrieval"] = retrieval(a, index)
    print(json.dumps(result["retrieval"]), flush=True)
    if a.app:
        result["app"] = app_start(a, index)
        print(json.dumps(result["app"]), flush=True)
    if a.resume_at:
        result["resume"] = resume(a, index, full)
        print(json.dumps(result["resume"]), flush=True)
    Path(a.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sy = sub.add_parser("synth", help="a synthetic archive from a real one")
    sy.add_argument("--from", dest="source", type=Path, required=True)
    sy.add_argument("--n", type=int, default=10_000)
    sy.add_argument("--out", type=Path, required=True)
    sy.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run", help="ingest and measure")
    r.add_argument("--corpus", type=Path, required=True)
    r.add_argument("--embedder", default="e5-small")
    r.add_argument("--index", required=True)
    r.add_argument("--queries", type=int, default=100)
    r.add_argument("--app", action="store_true")
    r.add_argument("--resume-at", type=float, default=0.0)
    r.add_argument("--out", required=True)
    r.add_argument("--ingested", help="skip the ingest: the ingest line an earlier run printed")
    a = parser.parse_args()
    if a.command == "synth":
        synth(a.source, a.n, a.out, a.seed)
    else:
        a.corpus = a.corpus.resolve()
        run(a)


if __name__ == "__main__":
    main()
