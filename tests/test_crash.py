"""Ingest under stress: two processes on one index, and `rag ingest` killed (SIGKILL) mid-way.

Each killed run is a real process: it runs the `rag` entry point with a hook that sends SIGKILL to
itself after the N-th store write, or while a write is in flight, or after a random delay. After
each kill the index must open and answer from what was committed, and a re-run must reach exactly
the state of a clean run (same record ids, texts, hashes and vectors; no duplicates).

The checks after a kill run in a fresh process, as a user's next command would: an embedded Chroma
folder caches its vector index in each process that opened it, so a process that had the folder
open before another one wrote to it can fail its queries ("Error finding id").
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.core.settings import Settings
from rag.index.store import Store
from rag.pipeline import RAG

WORDS = (
    "accord appel armée budget capitale conflit débat décision dirigeant économie élection "
    "enquête entretien frontière gouvernement guerre journal ministre négociation paix "
    "président prison réforme sanction sommet téléphone tribunal vote"
).split()


def write_corpus(folder: Path, n: int = 30, seed: int = 0, version: int = 1) -> None:
    """n articles of 1 to 6 paragraphs; article i alone contains the word `marqueur{i}`."""
    rng = random.Random(seed * 1000 + version)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        paragraphs = []
        for _ in range(rng.randint(1, 6)):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
                for _ in range(rng.randint(2, 5))
            ]
            paragraphs.append(" ".join(sentences))
        paragraphs[0] = f"Article {i} marqueur{i} version {version}. " + paragraphs[0]
        (folder / f"doc{i:02d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def settings_for(tmp_path: Path, name: str, corpus: Path) -> Settings:
    return Settings(
        sources=[corpus],
        index_dir=tmp_path / name,
        model_cache=tmp_path / "cache",
        embedder="fake",
        llm="fake",
        min_dense_score=0.0,
        embed_batch_size=4,
        chunk_size=60,
        chunk_overlap=10,
        window_size=25,
        window_overlap=5,
    )


def env_for(s: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_INDEX_DIR": str(s.index.index_dir),
        "RAG_MODEL_CACHE": str(s.generation.model_cache),
        "RAG_EMBED_BATCH_SIZE": "4",
        "RAG_CHUNK_SIZE": "60",
        "RAG_CHUNK_OVERLAP": "10",
        "RAG_WINDOW_SIZE": "25",
        "RAG_WINDOW_OVERLAP": "5",
    }


def snapshot(s: Settings) -> list[tuple]:
    """Every record of the index: id, text, document hash and record count, rounded vector."""
    got = Store(s, "hash-bow-256").collection.get(include=["documents", "metadatas", "embeddings"])
    rows = [
        (i, d, m["doc_hash"], m.get("doc_records"), m["kind"], tuple(round(float(x), 4) for x in e))
        for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])
    ]
    assert len(rows) == len({r[0] for r in rows})  # no duplicate ids
    return sorted(rows)


# A process that runs `rag ingest`, and kills itself at a chosen store write.
KILLER = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from rag.index import store
    from rag.cli.main import main

    mode, n, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    calls = {"upsert": 0, "delete": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def hook(name, original):
        def wrapped(self, *args, **kwargs):
            calls[name] += 1
            hit = mode.endswith(name) and calls[name] == n
            if hit and mode.startswith("during"):
                threading.Timer(delay, die).start()  # lands inside Chroma's write, or just after
            result = original(self, *args, **kwargs)
            if hit and mode.startswith("after"):
                die()
            if hit and mode.startswith("during"):
                time.sleep(10)  # wait for the timer: nothing else may be written
            return result
        return wrapped

    store.Store._upsert = hook("upsert", store.Store._upsert)
    store.Store.delete = hook("delete", store.Store.delete)
    sys.exit(main(["ingest"] + sys.argv[4:]))
    """
)


def killed_ingest(s: Settings, corpus: Path, mode: str, n: int, delay: float = 0.0):
    return subprocess.run(
        [sys.executable, "-c", KILLER, mode, str(n), str(delay), str(corpus)],
        env=env_for(s),
        capture_output=True,
        text=True,
        timeout=120,
    )


# A fresh process that opens the index after a kill, queries it, then (recover) re-runs ingest.
CHECKER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from test_crash import snapshot
    from rag.pipeline import RAG
    from rag.core.settings import Settings
    from rag.index.store import Store

    s = Settings()
    out = {"stored": 0, "retrieval_ok": True}
    if (s.index.index_dir / "chroma.sqlite3").exists():
        stored = {c.id: c.text for c in Store(s, "hash-bow-256").all_chunks()}
        out["stored"] = len(stored)
        if stored:
            passages = RAG(s).retrieve("marqueur3 article")
            out["retrieval_ok"] = bool(passages) and all(stored[p.chunk_id] == p.text for p in passages)
    if sys.argv[2] == "recover":
        out["report"] = RAG(s).ingest(progress=False).summary()
        out["snapshot"] = snapshot(s)
        out["second"] = RAG(s).ingest(progress=False).chunks_embedded
        out["top"] = RAG(s).retrieve("marqueur7 article")[0].source
    print(json.dumps(out))
    """
)


def check(s: Settings, mode: str) -> dict:
    env = {**env_for(s), "RAG_SOURCES": json.dumps([str(p) for p in s.index.sources])}
    result = subprocess.run(
        [sys.executable, "-c", CHECKER, str(Path(__file__).parent), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_recovers(s: Settings, corpus: Path, reference: list[tuple]) -> int:
    """The killed index opens and answers from what it holds; a re-run completes it exactly."""
    got = check(s, "recover")
    assert got["retrieval_ok"]
    assert got["snapshot"] == json.loads(json.dumps(reference)), got["report"]
    assert got["second"] == 0 and got["top"] == "doc07.txt"
    return got["stored"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Version 1 and version 2 of a 30-article corpus, and the clean index of each."""
    root = tmp_path_factory.mktemp("crash")
    v1, v2 = root / "v1", root / "v2"
    write_corpus(v1, version=1)
    write_corpus(v2, n=31, version=2)  # v2: a third of the articles rewritten, longer or shorter
    for i in range(31):
        if i % 3 and i < 30:
            (v2 / f"doc{i:02d}.txt").write_bytes((v1 / f"doc{i:02d}.txt").read_bytes())
    for i in (1, 4):  # two removed, doc30 added
        (v2 / f"doc{i:02d}.txt").unlink()
    clean = {}
    for name, folder in (("v1", v1), ("v2", v2)):
        s = settings_for(root, f"clean-{name}", folder)
        RAG(s).ingest(progress=False)
        clean[name] = snapshot(s)
    return {"root": root, "v1": v1, "v2": v2, "clean": clean}


# (mode, n, delay): a kill after the n-th upsert/delete, or `delay` s into the n-th upsert.
FIRST_RUN_KILLS = [
    ("after-upsert", 1, 0),
    ("after-upsert", 8, 0),
    ("during-upsert", 3, 0.0),
    ("during-upsert", 12, 0.003),
]
UPDATE_KILLS = [
    ("after-upsert", 2, 0),
    ("during-upsert", 3, 0.002),
    ("after-delete", 1, 0),
    ("during-delete", 8, 0.001),
]


@pytest.mark.parametrize("mode, n, delay", FIRST_RUN_KILLS)
def test_killed_first_ingest_recovers_exactly(corpus, tmp_path, mode, n, delay):
    s = settings_for(tmp_path, "index", corpus["v1"])
    result = killed_ingest(s, corpus["v1"], mode, n, delay)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert_recovers(s, corpus["v1"], corpus["clean"]["v1"])


@pytest.mark.parametrize("mode, n, delay", UPDATE_KILLS)
def test_killed_update_recovers_exactly(corpus, tmp_path, mode, n, delay):
    s = settings_for(tmp_path, "index", corpus["v1"])
    RAG(s).ingest(progress=False)
    s2 = s.updated(sources=[corpus["v2"]])
    result = killed_ingest(s2, corpus["v2"], mode, n, delay)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert_recovers(s2, corpus["v2"], corpus["clean"]["v2"])


def test_random_kills_of_the_real_command(corpus, tmp_path):
    """`rag ingest` itself, SIGKILLed after random delays (no hook), three times in a row."""
    s = settings_for(tmp_path, "index", corpus["v1"])
    cmd = [sys.executable, "-m", "rag.cli.main", "ingest", str(corpus["v1"])]
    start = time.perf_counter()
    subprocess.run(
        cmd,
        env=env_for(settings_for(tmp_path, "timing", corpus["v1"])),
        check=True,
        capture_output=True,
        timeout=120,
    )
    clean_s = time.perf_counter() - start
    rng = random.Random(7)
    outcomes = []
    for _ in range(3):
        proc = subprocess.Popen(
            cmd, env=env_for(s), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.5, 1.0) * clean_s)
        proc.send_signal(signal.SIGKILL)
        outcomes.append(proc.wait())
        assert check(s, "open")["retrieval_ok"]  # opens and answers after every kill
    assert_recovers(s, corpus["v1"], corpus["clean"]["v1"])
    assert -signal.SIGKILL in outcomes


# -- the ingest lock, with two processes -------------------------------------------------------
SLOW_INGEST = textwrap.dedent(
    """
    import sys, time
    from rag.index import embed
    from rag.cli.main import main

    original = embed.HashEmbedder.passages
    def slow(self, texts):
        time.sleep(0.5)
        return original(self, texts)
    embed.HashEmbedder.passages = slow
    print("started", flush=True)
    sys.exit(main(["ingest", sys.argv[1]]))
    """
)


def test_a_second_ingest_is_refused_then_waits_then_runs(corpus, tmp_path):
    s = settings_for(tmp_path, "index", corpus["v1"])
    env = env_for(s)
    slow = subprocess.Popen(
        [sys.executable, "-c", SLOW_INGEST, str(corpus["v1"])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = s.index.index_dir / ".ingest-documents.lock.pid"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    cmd = [sys.executable, "-m", "rag.cli.main", "ingest", str(corpus["v1"])]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and slow.poll() is None
    assert refused.stderr.strip().splitlines() == [
        f"Error: another ingest is running on {s.index.index_dir}/ (pid {slow.pid}) — wait for it to "
        "finish, or run 'rag ingest --wait SECONDS' to queue behind it"
    ]
    waited = subprocess.run(
        [*cmd, "--wait", "120"], env=env, capture_output=True, text=True, timeout=180
    )
    assert slow.wait(timeout=120) == 0, slow.stderr.read()[-2000:]
    assert waited.returncode == 0, waited.stderr
    assert "0 added" in waited.stdout and "30 unchanged" in waited.stdout  # it ran after the first
    assert snapshot(s) == corpus["clean"]["v1"]


def test_a_killed_ingest_leaves_no_stale_lock(corpus, tmp_path):
    s = settings_for(tmp_path, "index", corpus["v1"])
    result = killed_ingest(s, corpus["v1"], "after-upsert", 2)
    assert result.returncode == -signal.SIGKILL
    assert (s.index.index_dir / ".ingest-documents.lock.pid").exists()  # the holder died holding it
    ok = subprocess.run(
        [sys.executable, "-m", "rag.cli.main", "ingest", str(corpus["v1"])],
        env=env_for(s),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert snapshot(s) == corpus["clean"]["v1"]
