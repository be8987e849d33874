"""The ingest lock: one `rag ingest` at a time on an index, across processes (an OS file lock,
released even when a run is killed), with the holder's pid beside it for the message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from rag.core.errors import IndexStateError
from rag.core.settings import Settings
from rag.index.store import location


@contextmanager
def ingest_lock(settings: Settings, wait: float | None = None) -> Iterator[None]:
    """Serialise ingest runs on one index (an OS lock: released even when a run is killed).

    Waits up to `wait` seconds (default `settings.index.ingest_wait`; 0 refuses at once), then
    raises
    IndexStateError naming the process that holds the lock. With a Chroma server the lock file is
    local (in model_cache): it serialises ingests started from this machine only.
    """
    from filelock import FileLock, Timeout

    path = lock_path(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexStateError(
            f"cannot create {path.parent}/ ({exc.strerror}) — check RAG_INDEX_DIR"
        ) from None
    owner = path.with_name(
        path.name + ".pid"
    )  # beside the lock: the lock file itself is never rewritten
    lock = FileLock(path, timeout=settings.index.ingest_wait if wait is None else wait)
    try:
        lock.acquire()
    except Timeout:
        pid = _read_pid(owner)
        raise IndexStateError(
            f"another ingest is running on {location(settings)} (pid {pid or 'unknown'}) — "
            "wait for it to finish, or run 'rag ingest --wait SECONDS' to queue behind it"
        ) from None
    except OSError as exc:
        raise IndexStateError(
            f"cannot lock {path} ({exc.strerror}) — the index folder must be writable: "
            "check its permissions"
        ) from None
    try:
        with suppress(OSError):  # the pid only improves the message
            owner.write_text(str(os.getpid()))
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def lock_path(settings: Settings) -> Path:
    """The ingest lock file: in the index folder, or per server and collection in model_cache."""
    if not settings.server.chroma_host:
        return settings.index.index_dir / f".ingest-{settings.index.collection}.lock"
    server, index = settings.server, settings.index
    name = f".ingest-{server.chroma_host}-{server.chroma_port}-{index.collection}.lock"
    return Path(settings.generation.model_cache).expanduser() / name


def _read_pid(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
