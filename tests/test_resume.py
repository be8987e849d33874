"""A `rag ingest` killed halfway, run again, embeds only what the first run had not stored.

The ingest runs in a child process whose fake embedder logs every batch it embeds, then sleeps
before handing the vectors back (so before the batch is stored). The test SIGKILLs it while it
sleeps on its third batch: the two batches before are committed, the third is lost. The rerun
must embed exactly that lost batch and the rest — the log is the proof — and end with the very
index a clean run builds. Both runs show a progress bar with an ETA on stderr.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.test_crash import env_for, settings_for, snapshot, write_corpus

COUNTED_INGEST = textwrap.dedent(
    """
    import json, sys, time
    from rag.index import embed
    from rag.cli.main import main

    log, pause = sys.argv[1], float(sys.argv[2])
    original = embed.HashEmbedder.passages

    def counted(self, texts):
        vectors = original(self, texts)
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(texts) + "\\n")
        time.sleep(pause)  # embedded, not yet stored
        return vectors

    embed.HashEmbedder.passages = counted
    sys.exit(main(["ingest"]))
    """
)


def env(s) -> dict[str, str]:
    return env_for(s) | {"RAG_SOURCES": json.dumps([str(p) for p in s.index.sources])}


def batches(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def ingest(env: dict, log: Path, pause: float = 0.0) -> subprocess.Popen:
    """`rag ingest` of the corpus in a child process whose fake embedder logs its batches."""
    return subprocess.Popen(
        [sys.executable, "-c", COUNTED_INGEST, str(log), str(pause)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen) -> tuple[str, str]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    return out, err


def test_a_killed_ingest_resumes_without_re_embedding(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, n=30)
    clean_s = settings_for(tmp_path, "clean", corpus)
    _, clean_err = finished(ingest(env(clean_s), tmp_path / "clean.log"))
    clean = batches(tmp_path / "clean.log")
    assert len(clean) >= 8  # enough batches for "halfway" to mean something
    assert re.search(r"Embedding: .*\| 30/30 \[\d\d:\d\d<\d\d:\d\d", clean_err)  # bar, ETA

    s = settings_for(tmp_path, "index", corpus)
    log = tmp_path / "killed.log"
    proc = ingest(env(s), log, pause=2.0)
    deadline = time.monotonic() + 120
    while len(batches(log)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # asleep on its 3rd batch: embedded, not stored
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert batches(log) == clean[:3]

    log2 = tmp_path / "rerun.log"
    out, err = finished(ingest(env(s), log2))
    rerun = batches(log2)
    # only the batch lost by the kill and those never reached are embedded again
    assert [t for b in rerun for t in b] == [t for b in clean[2:] for t in b]
    done = int(re.search(r"(\d+) unchanged", out).group(1))
    assert 0 < done < 30 and f"Embedding ({done} already indexed)" in err
    assert snapshot(s) == snapshot(clean_s)  # the same index as a clean run

    finished(ingest(env(s), tmp_path / "third.log"))
    assert batches(tmp_path / "third.log") == []  # complete: nothing left to embed
