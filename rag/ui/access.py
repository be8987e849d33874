"""Who may do what on the served page: the login, the roles, the routes, the request sizes.

- `exposure_error`: binding to anything but loopback without a users file is refused.
- `Access`: the users (`rag.core.users`, or None: one local user, an editor), the fair queue of
  questions (`rag.ui.fair`), and `caller`: the role of a request's user, which the handlers check
  themselves (a hidden button is not a check).
- `Guard`, an ASGI middleware in front of gradio (hand-written: gradio checks the login on most of
  its routes but not all, e.g. `/gradio_api/stream/…`, `/cancel`, `/heartbeat`; and has no request
  size limit or login rate limit): with a login, every route but the login page's own assets needs
  the session cookie of a user still in the users file; every body over `max_request_bytes`
  (uploads aside, which gradio limits per file) is refused before it is read; failed logins are
  limited per client address (and per user name, in `Users.check`); a malformed API call that
  gradio's argument parsing turns into a 500 (a TypeError) is answered 422.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass

from rag.core.settings import Settings
from rag.core.users import EDITOR, Users
from rag.ui.fair import Gate

log = logging.getLogger("app")


@dataclass(frozen=True)
class Caller:
    name: str
    role: str | None  # None: logged in, but no longer in the users file

    @property
    def editor(self) -> bool:
        return self.role == EDITOR


LOCAL = Caller("local", EDITOR)  # no login configured: the one user at the keyboard


def upload_limit(settings: Settings) -> int:
    """Bytes of one upload request (gradio's max_file_size, per file, is the same): ours are
    checked with a clear message, per file, in add_uploads."""
    return max(20_000_000, 2 * settings.app.max_upload_bytes)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_error(settings: Settings) -> str:
    """Why the page must not be served with these settings, or ""."""
    if is_loopback(settings.app.host) or settings.app.users_file:
        return ""
    return (
        f"RAG_HOST={settings.app.host} would serve the page to the network without a login — set "
        "RAG_USERS_FILE (create it with 'rag users add NAME --role editor'), "
        "or keep RAG_HOST=127.0.0.1"
    )


class Access:
    """The users (None: no login) and the per-user question queue of one app."""

    def __init__(self, settings: Settings, users: Users | None = None) -> None:
        self.settings = settings
        if users is None and settings.app.users_file:
            users = Users(settings.app.users_file, settings.app.login_attempts)
        self.users = users
        self.gate = Gate(settings.app.concurrency, settings.app.user_queue)

    def queue_key(self, request) -> str:
        """Whose turn a question takes in the fair queue: the user; without logins, the browser
        session (every visitor is the same local user then, and must not share one bound)."""
        if self.users is None:
            return getattr(request, "session_hash", None) or LOCAL.name
        return self.caller(request).name

    def caller(self, request) -> Caller:
        """The user of a gradio request, with their role as the users file says now."""
        if self.users is None:
            return LOCAL
        name = getattr(request, "username", None) or ""
        return Caller(name, self.users.role(name))


# Routes the login page itself loads before anyone is logged in: the page, its code and styles.
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon")
PUBLIC_PATHS = {
    "/",
    "/login",
    "/login/",
    "/logout",
    "/config",
    "/config/",
    "/favicon.ico",
    "/theme.css",
    "/gradio_api/theme.css",
    "/robots.txt",
    "/manifest.json",
    "/gradio_api/startup-events",
}
API_PREFIXES = (
    "/gradio_api/call/",
    "/gradio_api/run/",
    "/gradio_api/api/",
    "/gradio_api/queue/",
    "/gradio_api/upload",
)
UPLOAD_PATHS = {
    "/gradio_api/upload",
    "/gradio_api/upload/",
}  # gradio limits each file (max_file_size)


class Guard:
    """ASGI middleware: login on every route, body size limit, failed-login limit per address."""

    def __init__(self, app, access: Access) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        limit = self.access.settings.app.max_request_bytes
        if path in UPLOAD_PATHS:
            length = _header(scope, b"content-length")
            total = upload_limit(self.access.settings)
            if length is not None and (not length.isdigit() or int(length) > total):
                return await _refuse(send, 413, f"upload over {total:,} bytes")
        else:
            length = _header(scope, b"content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                return await _refuse(
                    send, 413, f"request body over {limit:,} bytes (RAG_MAX_REQUEST_BYTES)"
                )
            if length is None and _header(scope, b"transfer-encoding"):
                body, receive = await _buffered(receive, limit)
                if body is None:
                    return await _refuse(
                        send, 413, f"request body over {limit:,} bytes (RAG_MAX_REQUEST_BYTES)"
                    )
        users = self.access.users
        if users is not None:
            if path in {"/login", "/login/"} and scope.get("method") == "POST":
                return await self._login(scope, receive, send, users)
            if not (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
                name = _session_user(scope)
                if name is None or users.role(name) is None:
                    return await _refuse(send, 401, "not logged in: log in on the page first")
                if path in UPLOAD_PATHS and users.role(name) != EDITOR:  # only editors add files
                    return await _refuse(send, 403, "only editors can upload files")
        if not path.startswith(API_PREFIXES):
            return await self.app(scope, receive, send)
        if (
            scope.get("method") == "GET"
            and path.startswith("/gradio_api/call/")
            and _unknown_event(scope, path)
        ):
            # gradio would start the event stream, then fail it with a 404 (a broken response)
            return await _refuse(
                send, 404, "no such event: POST the call first, then read its event id"
            )
        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            return await self.app(scope, receive, watched)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            if started:
                raise
            # gradio parses an API call's body with no validation of its own: a missing argument or
            # an upload field that is not a file is a TypeError there, hence a 500. It is the
            # caller's mistake: say so (and keep a line in the log).
            log.warning("bad API request to %s: %s: %s", path, type(exc).__name__, exc)
            return await _refuse(
                send, 422, f"malformed request: {type(exc).__name__}: {str(exc)[:200]}"
            )

    async def _login(self, scope, receive, send, users: Users):
        client = f"address:{(scope.get('client') or ('?',))[0]}"
        if not users.logins.reserve(client):  # counted before the check: parallel guesses too
            return await _refuse(
                send, 429, "too many failed logins from this address: wait a minute"
            )

        async def watched(message):
            if message["type"] == "http.response.start" and message["status"] < 400:
                users.logins.forgive(client)
            await send(message)

        return await self.app(scope, receive, watched)


def _unknown_event(scope, path: str) -> bool:
    """GET /gradio_api/call/[v2/]NAME/EVENT_ID of an event gradio's queue does not hold."""
    parts = path.rstrip("/").split("/")
    app = scope.get("app")
    if len(parts) < 5 or app is None:
        return False
    event_id = parts[-1]
    try:
        queue = app.get_blocks()._queue
        pending = queue.pending_event_ids_session.values()
        return event_id not in queue.event_ids_to_events and not any(
            event_id in ids for ids in pending
        )
    except AttributeError:  # another gradio: leave it to gradio
        return False


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _session_user(scope) -> str | None:
    """The user of the request's gradio session cookie, or None (no cookie, unknown token)."""
    from starlette.requests import (
        cookie_parser,
    )  # gradio's parser: lenient with other sites' cookies

    app = scope.get("app")
    raw = _header(scope, b"cookie")
    if app is None or not raw:
        return None
    cookies = cookie_parser(raw)
    cookie_id = getattr(app, "cookie_id", "")
    tokens = getattr(app, "tokens", {})
    token = cookies.get(f"access-token-{cookie_id}") or cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    return tokens.get(token) if token else None


async def _buffered(receive, limit: int):
    """Read a body of unknown length up to `limit` bytes: (body, a receive replaying it) or
    (None, _)."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None, receive
        more = message.get("more_body", False)
    body, sent = b"".join(chunks), False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
