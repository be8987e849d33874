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
import time
from pathlib import Path

from rag.core.errors import IndexStateError
from rag.core.settings import Settings


def audit_path(settings: Settings) -> Path:
    """RAG_AUDIT_LOG; else beside the index, or, with a Chroma server (nothing is written to
    index_dir then), in model_cache per server and collection, like the ingest lock."""
    if settings.audit_log:
        return Path(settings.audit_log)
    if not settings.chroma_host:
        return settings.index_dir / "audit.jsonl"
    name = f"audit-{settings.chroma_host}-{settings.chroma_port}-{settings.collection}.jsonl"
    return Path(settings.model_cache).expanduser() / name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(settings: Settings, user: str, action: str, document: str, digest: str = "",
           outcome: str = "accepted", via: str = "app", detail: str = "") -> dict:  # fmt: skip
    """Append one entry; a log that cannot be written is an IndexStateError (the change must not
    happen unrecorded: callers record before they report success)."""
    from filelock import FileLock

    entry = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "user": user, "action": action,
        "document": document, "sha256": digest, "outcome": outcome, "via": via,
    }  # fmt: skip
    if detail:
        entry["detail"] = detail[:300]
    path = audit_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=10), path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise IndexStateError(
            f"cannot write the audit log {path} ({exc.strerror or exc}) — make it writable or set RAG_AUDIT_LOG"
        ) from None
    return entry


def entries(settings: Settings) -> list[dict]:
    """Every entry of the log, oldest first ([] when there is none yet)."""
    try:
        lines = audit_path(settings).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
