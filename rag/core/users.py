"""The app's users: a JSON file of names, roles and salted bcrypt password hashes.

    {"users": {"alice": {"role": "editor", "hash": "$2b$12$…"}, "bob": {"role": "reader", …}}}

Written by `rag users add NAME --role editor` (the password is read from the terminal or stdin,
never from settings or the command line), read by the app (`RAG_USERS_FILE`). A `reader` asks
questions; an `editor` also uploads and removes documents. bcrypt (installed with chromadb) salts
and stretches each hash; a check costs ~0.2 s, which is why failed logins are also rate-limited
(`Logins`). The file is re-read when it changes, so a user added or removed while the app runs
counts at their next login or request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from rag.core.errors import InputError

log = logging.getLogger(__name__)

ROLES = ("reader", "editor")
EDITOR = "editor"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
MAX_PASSWORD = 72  # bcrypt reads at most 72 bytes: a longer one would be silently cut


@dataclass(frozen=True)
class User:
    name: str
    role: str
    hash: str


def load_users(path: Path) -> dict[str, User]:
    """The users of `path`; a missing or malformed file is one InputError that says what to do."""
    fix = f"create it with 'rag users add NAME --role editor' (RAG_USERS_FILE={path})"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"the users file {path} does not exist — {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the users file {path} ({exc}) — {fix}") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise InputError(f'the users file {path} has no "users" object — {fix}')
    users = {}
    for name, entry in entries.items():
        entry = entry if isinstance(entry, dict) else {}
        role, hashed = entry.get("role"), str(entry.get("hash", ""))
        if role not in ROLES:
            raise InputError(
                f"user {name!r} in {path} has role {role!r}, not one of {', '.join(ROLES)}"
            )
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise InputError(
                f"user {name!r} in {path} has no bcrypt password hash — "
                f"set one with 'rag users add {name}'"
            )
        users[name] = User(name, role, hashed)
    return users


def add_user(path: Path, name: str, password: str, role: str = "reader") -> bool:
    """Add `name` or replace their password and role; True when the user is new."""
    import bcrypt

    if not NAME.fullmatch(name):
        raise InputError(
            f"bad user name {name!r}: 1-64 letters, digits or . _ @ -, "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise InputError(f"bad role {role!r}: one of {', '.join(ROLES)}")
    size = len(password.encode("utf-8"))
    if not MIN_PASSWORD <= size <= MAX_PASSWORD:
        raise InputError(
            f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} bytes long (this one: {size})"
        )
    users = load_users(path) if Path(path).exists() else {}
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")
    new = name not in users
    users[name] = User(name, role, hashed)
    _write(path, users)
    return new


def remove_user(path: Path, name: str) -> None:
    users = load_users(path)
    if name not in users:
        raise InputError(f"no user {name!r} in {path} — 'rag users list' shows them")
    del users[name]
    _write(path, users)


def _write(path: Path, users: dict[str, User]) -> None:
    """Atomically (a crash leaves the old file), readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "users": {
            u.name: {"role": u.role, "hash": u.hash}
            for u in sorted(users.values(), key=lambda u: u.name)
        }
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Logins:
    """At most `attempts` failed logins per key (a user name, a client address) a minute."""

    def __init__(self, attempts: int, window: float = 60.0) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, key: str) -> bool:
        with self._lock:
            failures = self._recent(key)
            return len(failures) >= self.attempts

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(time.monotonic())

    def reserve(self, key: str) -> bool:
        """Count an attempt as failed before it is checked (False: the key is blocked). Counted
        after the check, parallel guesses would all pass `blocked` during the 0.2 s bcrypt."""
        with self._lock:
            failures = self._recent(key)
            if len(failures) >= self.attempts:
                return False
            failures.append(time.monotonic())
            return True

    def forgive(self, key: str) -> None:
        """The reserved attempt succeeded: it was not a failure."""
        with self._lock:
            failures = self._failures.get(key)
            if failures:
                failures.pop()

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and time.monotonic() - failures[0] > self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
            failures = self._failures.setdefault(key, deque())
        return failures


class Users:
    """The users file, re-read when it changes: checks passwords, gives roles."""

    def __init__(self, path: Path, attempts: int = 5) -> None:
        import bcrypt

        self.path = Path(path)
        self._dummy = bcrypt.hashpw(
            os.urandom(16).hex().encode(), bcrypt.gensalt()
        )  # no password's
        self.logins = Logins(attempts)
        self._stamp: tuple[int, int, int] | None = None
        self._loaded = False
        self._users: dict[str, User] = {}
        self._lock = threading.Lock()
        self.users()  # a bad file is refused at start, not at the first login

    def users(self) -> dict[str, User]:
        with self._lock:
            try:
                st = self.path.stat()
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                stamp = None
            if stamp is None or stamp != self._stamp:
                try:
                    self._users = load_users(self.path)
                    self._loaded = True
                except InputError:
                    if not self._loaded:
                        raise  # at start: refuse to serve
                    log.error(
                        "keeping the users read before: %s",
                        "".join(traceback.format_exc(limit=0)).strip(),
                    )
                self._stamp = stamp
            return self._users

    def check(self, name: str, password: str) -> bool:
        """gradio's auth callable: True for a known user with their password, not rate-limited."""
        import bcrypt

        if not self.logins.reserve(name):
            return False
        user = self.users().get(name)
        hashed = user.hash.encode("ascii") if user else self._dummy  # same cost for unknown names
        try:
            ok = (
                bcrypt.checkpw(password.encode("utf-8")[:MAX_PASSWORD], hashed) and user is not None
            )
        except ValueError:
            ok = False
        if ok:
            self.logins.forgive(name)
        return ok

    async def acheck(self, name: str, password: str) -> bool:
        """`check` in a worker thread: gradio awaits a coroutine auth on its event loop, which a
        0.2 s bcrypt would otherwise stall for every request (20 logins at once: timeouts)."""
        import anyio

        return await anyio.to_thread.run_sync(self.check, name, password)

    def role(self, name: str | None) -> str | None:
        """The role of a logged-in user; None for a name no longer in the file."""
        user = self.users().get(name or "")
        return user.role if user else None
