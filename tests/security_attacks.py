"""Attacks on the served app with a login: each one tried, its outcome checked and reported.

    python tests/security_attacks.py [--host 127.0.0.1]     # serve the app in a temp folder, attack it

Used by tests/test_security.py on loopback and, through `unshare -rn`, in a network namespace of
its own where the app listens on 0.0.0.0. The app runs as users run it (`python app.py`, fake
models) with two users: alice (editor) and bob (reader). Every attack returns
{"attack", "expected", "got", "ok"}; `main` prints them as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERS = {"alice": ("alice-password", "editor"), "bob": ("bob-password", "reader")}
ARTICLE = "Le zorglub est une fête organisée chaque année à Montauban, au musée du zorglub.\n"


class App:
    """`python app.py` on a free port with a users file, over a copy of the seeds."""

    def __init__(self, work: Path, host: str = "127.0.0.1") -> None:
        from rag.core.users import add_user

        self.work, self.host = work, host
        self.seeds = work / "seeds"
        shutil.copytree(ROOT / "seeds", self.seeds)
        self.users_file = work / "users.json"
        for name, (password, role) in USERS.items():
            add_user(self.users_file, name, password, role)
        self.audit = work / "audit.jsonl"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "RAG_SOURCES": json.dumps([str(self.seeds)]),
            "RAG_INDEX_DIR": str(work / "index"),
            "RAG_MODEL_CACHE": str(work / "cache"),
            "RAG_EMBEDDER": "fake",
            "RAG_LLM": "fake",
            "RAG_MIN_DENSE_SCORE": "0",
            "RAG_MIN_CONFIDENCE": "0",  # the fake's replies are no graded answers
            "RAG_USERS_FILE": str(self.users_file),
            "RAG_HOST": host,
            "RAG_PORT": str(self.port),
            "RAG_AUDIT_LOG": str(self.audit),
            "RAG_LOGIN_ATTEMPTS": "5",
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> App:
        import httpx

        self.log = open(self.work / "app.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            env=self.env,
            cwd=self.work,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the app did not start: {(self.work / 'app.log').read_text()[-2000:]}"
                )
            time.sleep(0.3)

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.seeds.iterdir())}

    def audit_entries(self) -> list[dict]:
        try:
            return [
                json.loads(line) for line in self.audit.read_text().splitlines() if line.strip()
            ]
        except FileNotFoundError:
            return []


def login(app: App, name: str, password: str):
    """An httpx client with the session cookie of `name` (or the failed response)."""
    import httpx

    client = httpx.Client(base_url=app.url, timeout=30)
    response = client.post("/login", data={"username": name, "password": password})
    return client, response


def cookie_header(client) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


def gradio_as(app: App, client):
    from gradio_client import Client

    return Client(app.url, verbose=False, headers=cookie_header(client), download_files=False)


def call_raw(client, api: str, body: dict) -> list:
    """An event called over plain HTTP (gradio's /call API): its outputs, or an AppError text."""
    r = client.post(f"/gradio_api/call/v2/{api}", json=body)
    r.raise_for_status()
    stream = client.get(f"/gradio_api/call/{api}/{r.json()['event_id']}", timeout=60).text
    data = [line[5:].strip() for line in stream.splitlines() if line.startswith("data:")]
    return json.loads(data[-1]) if data else []


def attacks(app: App) -> list[dict]:
    import httpx
    from gradio_client import handle_file

    results: list[dict] = []

    def check(attack: str, expected: str, run: Callable[[], tuple[str, bool]]) -> None:
        try:
            got, ok = run()
        except Exception as exc:
            got, ok = f"{type(exc).__name__}: {exc}"[:200], False
        results.append({"attack": attack, "expected": expected, "got": got, "ok": ok})

    anon = httpx.Client(base_url=app.url, timeout=30)
    seed = next(iter(app.files()))
    routes = [
        ("GET", "/config"),
        ("GET", "/gradio_api/info"),
        ("GET", "/gradio_api/openapi.json"),
        ("POST", "/gradio_api/queue/join"),
        ("POST", "/gradio_api/call/v2/ask"),
        ("POST", "/gradio_api/run/ask"),
        ("POST", "/gradio_api/upload"),
        ("POST", "/gradio_api/cancel"),
        ("GET", "/gradio_api/heartbeat/x"),
        ("POST", "/gradio_api/stream/x"),
        ("GET", f"/gradio_api/file={app.seeds / seed}"),
        ("GET", "/gradio_api/file=/etc/passwd"),
        ("GET", "/monitoring"),
        ("POST", "/gradio_api/reset"),
    ]
    for method, route in routes:

        def no_login(method=method, route=route):
            r = anon.request(
                method, route, json={"data": ["Qui ?"], "fn_index": 0, "session_hash": "x"}
            )
            return f"{r.status_code}", r.status_code == 401

        check(f"no login: {method} {route}", "401", no_login)

    def page():
        r = anon.get("/")
        leaks = [w for w in ("Washington", "Poutine", "000_", "001_", "$2b$") if w in r.text]
        return f"{r.status_code}, leaks: {leaks}", r.status_code == 200 and not leaks

    check(
        "no login: GET / (the page)", "200, the login page only: no article, no document name", page
    )

    def wrong_password():
        _, r = login(app, "alice", "bob-password")
        return f"{r.status_code}", r.status_code == 400

    check("wrong password", "400", wrong_password)

    alice, r_alice = login(app, "alice", USERS["alice"][0])
    bob, r_bob = login(app, "bob", USERS["bob"][0])
    check(
        "right passwords",
        "200, 200",
        lambda: (
            f"{r_alice.status_code}, {r_bob.status_code}",
            r_alice.status_code == r_bob.status_code == 200,
        ),
    )

    before = app.files()
    upload = app.work / "zorglub.txt"
    upload.write_text(ARTICLE, encoding="utf-8")

    def staged_by_alice() -> dict:
        """A file in gradio's upload folder (a reader may not put one there: 403), so that the
        reader's call reaches the upload handler, whose own role check is what is attacked."""
        r = alice.post("/gradio_api/upload", files=[("files", ("zorglub.txt", ARTICLE.encode()))])
        r.raise_for_status()
        return {
            "path": r.json()[0],
            "orig_name": "zorglub.txt",
            "meta": {"_type": "gradio.FileData"},
        }

    def reader_upload():
        message = call_raw(bob, "upload", {"paths": [staged_by_alice()], "u": "en"})[0]
        return message[:80], "Only editors" in message and app.files() == before

    check(
        "reader calls the upload handler through the raw API",
        "refused, nothing changed",
        reader_upload,
    )

    def reader_remove():
        message = gradio_as(app, bob).predict(seed, "en", api_name="/remove")[0]
        return message[:80], "Only editors" in message and app.files() == before

    check("reader removes through the raw API", "refused, nothing changed", reader_remove)

    def reader_upload_route():
        r = bob.post(
            "/gradio_api/upload", files=[("files", (f"f{i}.txt", b"x" * 1000)) for i in range(50)]
        )
        return f"{r.status_code}", r.status_code == 403

    check(
        "reader posts 50 files to /gradio_api/upload",
        "403 (only editors upload files)",
        reader_upload_route,
    )

    def reader_asks():
        chat = gradio_as(app, bob).predict(
            "Quel journal a révélé l'appel ?", 5, "auto", False, "fr", api_name="/ask"
        )[0]
        return chat[-1]["content"][:80], len(chat) == 2 and not str(chat[-1]["content"]).startswith(
            "⚠"
        )

    check("reader asks a question", "answered", reader_asks)

    def forged_cookie():
        cookies = {
            k: v[:-2] + ("aa" if not v.endswith("aa") else "bb") for k, v in bob.cookies.items()
        }
        r = httpx.get(app.url + "/gradio_api/info", cookies=cookies)
        return f"{r.status_code}", r.status_code == 401

    check("forged session cookie", "401", forged_cookie)

    def cookies_are_per_user():
        bob_says = call_raw(bob, "upload", {"paths": [staged_by_alice()], "u": "en"})[0]
        alice_says = gradio_as(app, alice).predict(
            [handle_file(str(upload))], "en", api_name="/upload"
        )[0]
        return f"bob: {bob_says[:30]}… alice: {alice_says[:30]}…", (
            "Only editors" in bob_says
            and alice_says.startswith("✓")
            and "zorglub.txt" in app.files()
        )

    check("each cookie acts as its own user", "bob refused, alice accepted", cookies_are_per_user)

    def traversal_upload():
        r = alice.post(
            "/gradio_api/upload", files=[("files", ("../../evil.txt", ARTICLE.encode()))]
        )
        if r.status_code != 200:
            return f"{r.status_code}", True
        path = r.json()[0]
        data = {"path": path, "orig_name": "../../evil.txt", "meta": {"_type": "gradio.FileData"}}
        message = gradio_as(app, alice).predict([data], "en", api_name="/upload")[0]
        outside = [p for p in app.work.rglob("evil.txt") if app.seeds not in p.parents]
        outside += list(app.work.parent.glob("evil.txt"))
        return f"{message[:60]}; outside the folder: {len(outside)}", not outside

    check("upload named ../../evil.txt", "nothing outside the documents folder", traversal_upload)

    def server_file_as_upload():
        data = {"path": str(app.users_file), "meta": {"_type": "gradio.FileData"}}
        try:
            message = gradio_as(app, alice).predict([data], "en", api_name="/upload")[0]
        except Exception as exc:
            message = f"refused: {type(exc).__name__}"
        return message[:80], "users.json" not in app.files()

    check("upload of a server file by path (users.json)", "refused", server_file_as_upload)

    def remove_outside():
        try:
            message = gradio_as(app, alice).predict("../users.json", "en", api_name="/remove")[0]
        except Exception as exc:
            message = f"refused: {type(exc).__name__}"
        return message[:80], app.users_file.exists()

    check("remove ../users.json", "refused, the file intact", remove_outside)

    def read_users_file():
        r = alice.get(f"/gradio_api/file={app.users_file}")
        return f"{r.status_code}", r.status_code in (403, 404) and "$2b$" not in r.text

    check("read users.json through /file=", "403 or 404", read_users_file)

    def oversized_file():
        r = alice.post("/gradio_api/upload", files=[("files", ("big.txt", b"a" * 25_000_000))])
        return f"{r.status_code}", r.status_code == 413

    check("25 MB upload", "413", oversized_file)

    def over_our_limit():
        big = app.work / "big.txt"
        big.write_bytes(b"mot " * 750_000)
        message = gradio_as(app, alice).predict([handle_file(str(big))], "en", api_name="/upload")[
            0
        ]
        return message[:80], "limit" in message and "big.txt" not in app.files()

    check("3 MB article (limit 2 MB)", "refused with the limit", over_our_limit)

    def huge_question():
        r = alice.post("/gradio_api/call/v2/ask", json={"data": ["x" * 10_000_000]})
        return f"{r.status_code}", r.status_code == 413

    check("10 MB question through the API", "413", huge_question)

    def chunked_body():
        def body():
            for _ in range(30):
                yield b"x" * 100_000

        r = alice.post("/gradio_api/queue/join", content=body())
        return f"{r.status_code}", r.status_code == 413

    check("3 MB chunked body, no length", "413", chunked_body)

    def removal_and_audit():
        message = gradio_as(app, alice).predict("zorglub.txt", "en", api_name="/remove")[0]
        log = [(e["user"], e["action"], e["document"], e["outcome"]) for e in app.audit_entries()]
        wanted = [
            ("bob", "upload", "zorglub.txt", "refused"),
            ("bob", "remove", seed, "refused"),
            ("alice", "upload", "zorglub.txt", "accepted"),
            ("alice", "remove", "zorglub.txt", "accepted"),
        ]
        return f"{message[:30]}; log: {log}", all(
            w in log for w in wanted
        ) and "zorglub.txt" not in app.files()

    check(
        "the audit log records each change",
        "bob's refusals, alice's upload and removal",
        removal_and_audit,
    )

    def logout():
        stale = dict(bob.cookies)
        bob.get("/logout")
        r = httpx.get(app.url + "/gradio_api/info", cookies=stale)
        return f"{r.status_code}", r.status_code == 401

    check("cookie after logout", "401", logout)

    def burst():  # last: it locks this address out for a minute
        codes = [login(app, "mallory", f"guess-{i}")[1].status_code for i in range(8)]
        late = login(app, "bob", USERS["bob"][0])[1].status_code
        refused = codes.index(429) if 429 in codes else len(codes)
        ok = (
            set(codes[:refused]) == {400}
            and set(codes[refused:]) == {429}
            and refused <= 5
            and late == 429
        )
        return f"{codes} then the right password: {late}", ok

    check(
        "burst of 8 wrong logins",
        "400 until 5 failures from this address (one was made above), "
        "then 429, even for a right password",
        burst,
    )
    return results


def parallel_attack(app: App) -> dict:
    """20 wrong logins at once from one address, on a fresh app: at most 5 reach the password check."""
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(20) as pool:
        codes = list(
            pool.map(lambda i: login(app, "mallory", f"guess-{i}")[1].status_code, range(20))
        )
    ok = codes.count(400) <= 5 and codes.count(429) == 20 - codes.count(400)
    return {
        "attack": "20 wrong logins at once",
        "expected": "at most 5 checked (400), the rest 429",
        "got": f"{codes.count(400)} x 400, {codes.count(429)} x 429",
        "ok": ok,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--host", default="127.0.0.1", help="RAG_HOST of the app (0.0.0.0 in a network namespace)"
    )
    args = p.parse_args()
    from rag.core.offline import offline_environment

    offline_environment()
    with tempfile.TemporaryDirectory() as tmp, App(Path(tmp), args.host) as app:
        for result in attacks(app):
            print(json.dumps(result, ensure_ascii=False), flush=True)
    with tempfile.TemporaryDirectory() as tmp, App(Path(tmp), args.host) as app:
        print(json.dumps(parallel_attack(app), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
