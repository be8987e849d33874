"""The audit log: one JSON line per change to the documents (who, when, what, the file's hash).

Appended by the app's Documents tab (uploads, removals: accepted and refused) and by `rag ingest`
(what it added, updated and removed). One `write` under a file lock per line, so lines of several
processes never interleave; the log is only ever appended to.

    {"at": "2026-12-03T18:02:11Z", "user": "alice", "action": "upload", "document": "x.txt",
     "sha256": "…", "outcome": "accepted", "via": "app"}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Container
from pathlib import Path

from rag.core.errors import IndexStateError
from rag.core.settings import Settings

MAX_NAME = 256  # a document name is cut there: a reader's 1 MB name must not grow the log by 1 MB


def audit_path(settings: Settings) -> Path:
    """RAG_AUDIT_LOG; else beside the index, or, with a Chroma server (nothing is written to
    index_dir then), in model_cache per server and collection, like the ingest lock."""
    if settings.app.audit_log:
        return Path(settings.app.audit_log)
    if not settings.server.chroma_host:
        return settings.index.index_dir / "audit.jsonl"
    server, index = settings.server, settings.index
    name = f"audit-{server.chroma_host}-{server.chroma_port}-{index.collection}.jsonl"
    return Path(settings.generation.model_cache).expanduser() / name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(
    settings: Settings,
    user: str,
    action: str,
    document: str,
    digest: str = "",
    outcome: str = "accepted",
    via: str = "app",
    detail: str = "",
) -> dict:
    """Append one entry; a log that cannot be written is an IndexStateError (the change must not
    happen unrecorded: callers record before they report success)."""
    from filelock import FileLock

    entry = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "user": user[:100],
        "action": action,
        "document": document[:MAX_NAME],
        "sha256": digest,
        "outcome": outcome,
        "via": via,
    }
    if detail:
        entry["detail"] = detail[:300]
    path = audit_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=10), path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise IndexStateError(
            f"cannot write the audit log {path} ({exc.strerror or exc}) — "
            "make it writable or set RAG_AUDIT_LOG"
        ) from None
    return entry


def check_writable(settings: Settings) -> None:
    """Raise the IndexStateError `record` would, before a change is made rather than after; writes
    nothing (a refused upload leaves no trace on disk)."""
    path = audit_path(settings)
    target = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
    problem = ""
    if path.exists() and not path.is_file():
        problem = "not a file"
    elif target is not path and not target.is_dir():
        problem = f"{target} is not a folder"
    elif not os.access(target, os.W_OK):
        problem = "permission denied"
    if problem:
        raise IndexStateError(
            f"cannot write the audit log {path} ({problem}) — make it writable or set RAG_AUDIT_LOG"
        )


def record_ingest(
    settings: Settings, user: str, report, via: str = "ingest", skip: Container[str] = frozenset()
) -> None:
    """What an ingest added, updated and removed (but the documents in `skip`, logged by their
    caller): an app's re-index also takes in files changed in the folder by hand."""
    for action, ids in (
        ("add", report.added),
        ("update", report.updated),
        ("remove", report.removed),
    ):
        for doc_id in ids:
            if doc_id not in skip:
                record(settings, user, action, doc_id, report.texts.get(doc_id, ""), via=via)


def entries(settings: Settings) -> list[dict]:
    """Every entry of the log, oldest first ([] when there is none yet)."""
    try:
        lines = audit_path(settings).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
