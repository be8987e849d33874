"""Logins, roles, the audit log and the fair question queue, without a server (tests/test_security.py
attacks the served app)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag.cli.main import main as rag_main
from rag.core.errors import InputError
from rag.core.users import Logins, Users, add_user, load_users, remove_user
from rag.index import audit
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM
from rag.ui import app
from rag.ui.access import LOCAL, Access, Caller, exposure_error, is_loopback
from rag.ui.chat import respond_in_turn
from rag.ui.fair import Busy, Gate

ARTICLE = (
    "Le zorglub est une fête organisée chaque année à Montauban, au musée du zorglub.".encode()
)


def no_progress(*args, **kwargs) -> None:
    pass


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    add_user(path, "alice", "alice-password", "editor")
    add_user(path, "bob", "bob-password", "reader")
    return path


# -- the users file ---------------------------------------------------------------------------
def test_users_file_holds_salted_hashes_only(users_file):
    text = users_file.read_text()
    assert "alice-password" not in text and "bob-password" not in text
    data = json.loads(text)["users"]
    assert data["alice"]["role"] == "editor" and data["bob"]["role"] == "reader"
    assert data["alice"]["hash"].startswith("$2b$") and data["alice"]["hash"] != data["bob"]["hash"]
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600


def test_check_accepts_the_password_and_nothing_else(users_file):
    users = Users(users_file)
    assert users.check("alice", "alice-password")
    assert not users.check("alice", "bob-password")
    assert not users.check("nobody", "alice-password")
    assert not users.check("alice", "")
    assert (
        users.role("alice") == "editor"
        and users.role("bob") == "reader"
        and users.role("x") is None
    )


def test_failed_logins_lock_the_name_for_the_window(users_file):
    users = Users(users_file, attempts=3)
    for _ in range(3):
        assert not users.check("alice", "wrong-password")
    assert not users.check("alice", "alice-password")  # locked, even with the right password
    assert users.check("bob", "bob-password")  # other names are not affected


def test_logins_forget_failures_after_the_window():
    logins = Logins(2, window=0.2)
    logins.failed("k"), logins.failed("k")
    assert logins.blocked("k")
    threading.Event().wait(0.3)
    assert not logins.blocked("k")


def test_parallel_guesses_are_counted_before_they_are_checked(users_file, monkeypatch):
    import bcrypt

    checked = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, h: checked.append(1) or real(pw, h))
    users = Users(users_file, attempts=5)
    threads = [
        threading.Thread(target=users.check, args=("alice", f"guess-{i}")) for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == 5  # 15 of the 20 never reached bcrypt
    assert not users.check("alice", "alice-password")


def test_a_successful_login_is_not_counted(users_file):
    users = Users(users_file, attempts=2)
    for _ in range(5):
        assert users.check("bob", "bob-password")


def test_a_vanished_users_file_keeps_the_users_read_before(users_file):
    users = Users(users_file)
    users_file.unlink()
    assert users.role("alice") == "editor" and users.role("alice") == "editor"
    users_file.write_text("{bad")
    assert users.role("bob") == "reader"
    add_user(users_file.with_name("other.json"), "carol", "carol-password", "editor")
    users_file.with_name("other.json").replace(users_file)
    assert users.role("carol") == "editor" and users.role("alice") is None


def test_users_file_is_reread_when_it_changes(users_file):
    users = Users(users_file)
    assert users.role("carol") is None
    add_user(users_file, "carol", "carol-password", "editor")
    assert users.role("carol") == "editor" and users.check("carol", "carol-password")
    remove_user(users_file, "bob")
    assert users.role("bob") is None


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        ("{not json", "cannot read"),
        ('{"people": {}}', 'no "users"'),
        ('{"users": {"eve": {"role": "admin", "hash": "$2b$12$x"}}}', "role 'admin'"),
        ('{"users": {"eve": {"role": "reader", "hash": "plain-text"}}}', "no bcrypt password hash"),
    ],
)
def test_bad_users_file_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "users.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_users(path)


@pytest.mark.parametrize(
    "name, password, role, message",
    [
        ("../x", "long-password", "reader", "bad user name"),
        ("ok", "short", "reader", "8 to 72 bytes"),
        ("ok", "x" * 73, "reader", "8 to 72 bytes"),
        ("ok", "long-password", "root", "bad role"),
    ],
)
def test_add_user_refuses_bad_input(tmp_path, name, password, role, message):
    with pytest.raises(InputError, match=message):
        add_user(tmp_path / "users.json", name, password, role)
    assert not (tmp_path / "users.json").exists()


def test_rag_users_command(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.json"
    monkeypatch.setattr("sys.stdin", SimpleNamespace(readline=lambda: "dana-password\n"))
    assert (
        rag_main(
            ["users", "add", "dana", "--role", "editor", "--file", str(path), "--password-stdin"]
        )
        == 0
    )
    assert Users(path).check("dana", "dana-password")
    assert rag_main(["users", "list", "--file", str(path)]) == 0
    assert "dana\teditor" in capsys.readouterr().out
    assert rag_main(["users", "remove", "ghost", "--file", str(path)]) == 1
    assert "no user 'ghost'" in capsys.readouterr().err


# -- serving safely ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("news.lan", False),
    ],
)
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_network_address_needs_a_users_file(settings, users_file):
    problem = exposure_error(settings.updated(host="0.0.0.0"))
    assert "RAG_HOST=0.0.0.0" in problem and "RAG_USERS_FILE" in problem
    assert exposure_error(settings.updated(host="0.0.0.0", users_file=users_file)) == ""
    assert exposure_error(settings) == ""


def test_launch_refuses_the_network_without_login(settings):
    demo = app.build_app(RAG(settings, llm=FakeLLM()))
    with pytest.raises(InputError, match="without a login"):
        app.launch(demo, 0, block=False, host="0.0.0.0")


def test_app_main_refuses_the_network_without_login(monkeypatch, capsys, settings):
    monkeypatch.setenv("RAG_HOST", "0.0.0.0")
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index.index_dir))
    assert app.main() == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RAG_USERS_FILE" in err


# -- roles, checked by the handlers themselves ------------------------------------------------
@pytest.fixture
def bot(settings) -> RAG:
    bot = RAG(settings, llm=FakeLLM())
    bot.ingest(progress=False)
    return bot


def test_a_reader_cannot_upload_or_remove_and_is_logged(bot, seeds, users_file):
    reader = Access(bot.settings.updated(users_file=users_file)).caller(
        SimpleNamespace(username="bob")
    )
    assert reader == Caller("bob", "reader") and not reader.editor
    before = sorted(p.name for p in seeds.iterdir())
    message, *_ = app.add_uploads(bot, [("zorglub.txt", ARTICLE)], "en", no_progress, reader)
    assert message == "⚠ " + app.TEXT["en"]["not_editor"]
    upload = seeds.parent / "zorglub.txt"
    upload.write_bytes(ARTICLE)
    message, *_ = app.upload_files(bot, [str(upload)], "en", no_progress, reader)
    assert "Only editors" in message
    message, *_ = app.delete_document(bot, before[0], "en", no_progress, reader)
    assert "Only editors" in message
    assert sorted(p.name for p in seeds.iterdir()) == before
    log = audit.entries(bot.settings)
    assert [(e["user"], e["action"], e["outcome"]) for e in log] == [
        ("bob", "upload", "refused"),
        ("bob", "upload", "refused"),
        ("bob", "remove", "refused"),
    ]


def test_an_editors_changes_are_in_the_audit_log(bot, seeds):
    alice = Caller("alice", "editor")
    message, *_ = app.add_uploads(bot, [("zorglub.txt", ARTICLE)], "fr", no_progress, alice)
    assert message.startswith("✓")
    message, *_ = app.delete_document(bot, "zorglub.txt", "fr", no_progress, alice)
    assert message.startswith("✓")
    log = audit.entries(bot.settings)
    assert [(e["user"], e["action"], e["document"], e["outcome"]) for e in log] == [
        ("alice", "upload", "zorglub.txt", "accepted"),
        ("alice", "remove", "zorglub.txt", "accepted"),
    ]
    assert log[0]["sha256"] == log[1]["sha256"] == audit.sha256(ARTICLE)
    assert all(e["at"].endswith("Z") for e in log)


def test_a_user_removed_from_the_file_loses_their_rights(bot, users_file):
    access = Access(bot.settings.updated(users_file=users_file))
    assert access.caller(SimpleNamespace(username="alice")).editor
    remove_user(users_file, "alice")
    assert access.caller(SimpleNamespace(username="alice")) == Caller("alice", None)
    assert (
        Access(bot.settings).caller(SimpleNamespace(username=None)) is LOCAL
    )  # no login configured


def test_queue_key_is_the_user_or_without_logins_the_session(bot, users_file):
    request = SimpleNamespace(username="bob", session_hash="s1")
    assert Access(bot.settings.updated(users_file=users_file)).queue_key(request) == "bob"
    local = Access(bot.settings)
    assert (
        local.queue_key(request) == "s1"
        and local.queue_key(SimpleNamespace(session_hash="s2")) == "s2"
    )


def test_password_check_off_the_event_loop(users_file):
    users = Users(users_file)
    assert asyncio.run(users.acheck("bob", "bob-password")) and not asyncio.run(
        users.acheck("bob", "x" * 9)
    )


def test_session_cookie_is_read_beside_other_sites_cookies():
    from rag.ui.access import _session_user

    app_ = SimpleNamespace(cookie_id="abc", tokens={"t0k": "bob"})
    for others in ("", "x=a b; ", 'j={"a":1}; ', "a[b]=1; "):
        scope = {
            "app": app_,
            "headers": [(b"cookie", f"{others}access-token-unsecure-abc=t0k".encode())],
        }
        assert _session_user(scope) == "bob", others
    assert (
        _session_user({"app": app_, "headers": [(b"cookie", b"access-token-abc=forged")]}) is None
    )


def test_changes_riding_along_with_an_upload_are_logged(bot, seeds):
    (seeds / "by-hand.txt").write_bytes(ARTICLE.replace(b"zorglub", b"bidule"))
    message, *_ = app.add_uploads(
        bot, [("zorglub.txt", ARTICLE)], "fr", no_progress, Caller("alice", "editor")
    )
    assert message.startswith("✓")
    log = [(e["user"], e["action"], e["document"], e["via"]) for e in audit.entries(bot.settings)]
    assert log == [
        ("alice", "add", "by-hand.txt", "app-ingest"),
        ("alice", "upload", "zorglub.txt", "app"),
    ]


def test_no_removal_when_the_audit_log_cannot_be_written(bot, seeds, tmp_path):
    (tmp_path / "not-a-folder").write_text("x")
    blocked = RAG(
        bot.settings.updated(audit_log=tmp_path / "not-a-folder" / "audit.jsonl"),
        llm=bot.llm,
        embedder=bot.embedder,
    )
    doc = sorted(p.name for p in seeds.iterdir())[0]
    message, *_ = app.delete_document(blocked, doc, "en", no_progress, Caller("alice", "editor"))
    assert "audit log" in message and (seeds / doc).exists()
    message, *_ = app.add_uploads(
        blocked, [("zorglub.txt", ARTICLE)], "en", no_progress, Caller("alice", "editor")
    )
    assert "audit log" in message and not (seeds / "zorglub.txt").exists()


def test_a_readers_huge_document_name_is_cut_in_the_log(bot):
    app.delete_document(bot, "x" * 900_000, "en", no_progress, Caller("bob", "reader"))
    (entry,) = audit.entries(bot.settings)
    assert len(entry["document"]) == 256


def test_cli_ingest_is_in_the_audit_log(settings, seeds, monkeypatch):
    (seeds / "zorglub.txt").write_bytes(ARTICLE)
    for name, value in (
        ("RAG_SOURCES", json.dumps([str(seeds)])),
        ("RAG_INDEX_DIR", str(settings.index.index_dir)),
        ("RAG_EMBEDDER", "fake"),
        ("RAG_LLM", "fake"),
        ("RAG_MODEL_CACHE", str(settings.generation.model_cache)),
    ):
        monkeypatch.setenv(name, value)
    assert rag_main(["ingest"]) == 0
    (seeds / "zorglub.txt").unlink()
    assert rag_main(["ingest"]) == 0
    log = audit.entries(settings)
    added = {e["document"] for e in log if e["action"] == "add"}
    assert "zorglub.txt" in added and len(added) == len(list(seeds.glob("*.txt"))) + 1
    assert [e["document"] for e in log if e["action"] == "remove"] == ["zorglub.txt"]
    assert all(e["user"].startswith("cli:") and e["via"] == "ingest" for e in log)


# -- the fair queue -----------------------------------------------------------------------------
def test_gate_serves_users_in_turn():
    gate = Gate(slots=1, per_user=20)
    flood = [gate.enter("flood") for _ in range(20)]
    assert flood[0].granted.is_set() and not flood[1].granted.is_set()
    other = gate.enter("other")
    assert gate.ahead(other) == 1  # the answer running; not the 19 waiting
    gate.release(flood[0])
    assert other.granted.is_set() and not flood[1].granted.is_set()
    gate.release(other)
    assert flood[1].granted.is_set()
    assert gate.state() == ({"flood": 1}, {"flood": 18})


def test_gate_keeps_a_users_order_and_bounds_it():
    gate = Gate(slots=2, per_user=3)
    a = [gate.enter("a") for _ in range(3)]
    with pytest.raises(Busy) as busy:
        gate.enter("a")
    assert busy.value.held == 3
    assert [t.granted.is_set() for t in a] == [True, True, False]
    gate.release(a[2])  # given up while waiting: its place is freed
    assert gate.state() == ({"a": 2}, {})
    gate.enter("a")
    gate.release(a[0])
    gate.release(a[0])  # twice is harmless
    assert gate.state() == ({"a": 2}, {})


def test_gate_round_robin_among_three():
    gate = Gate(slots=1, per_user=5)
    first = gate.enter("a")
    tickets = {u: [gate.enter(u) for _ in range(2)] for u in "abc"}
    order, running = [], first
    while True:
        gate.release(running)
        granted = [
            (u, t) for u, ts in tickets.items() for t in ts if t.granted.is_set() and not t.done
        ]
        if not granted:
            break
        ((user, running),) = granted
        order.append(user)
    assert order == ["b", "c", "a", "b", "c", "a"]


def test_a_flooding_user_does_not_delay_another_by_more_than_one_answer(bot):
    """Through the chat handler: 6 questions of one user queued, then one of another."""
    from benchmarks.load_test import slow_fake

    bot = RAG(bot.settings, llm=slow_fake(0.2), embedder=bot.embedder)  # answers that last
    gate, answered = Gate(slots=1, per_user=10), []

    async def ask(user, question):
        async for view in respond_in_turn(gate, user, bot, question, ui="en"):
            last = view
        answered.append((user, last[0][-1]["content"]))

    arrived = []

    async def scene():
        flood = [asyncio.create_task(ask("flood", f"Who called Putin? ({i})")) for i in range(6)]
        await asyncio.sleep(0.05)
        arrived.append(len(answered))  # flood answers already given when the other user asks
        other = asyncio.create_task(ask("other", "Which newspaper reported the call?"))
        await asyncio.gather(*flood, other)

    asyncio.run(scene())
    users = [u for u, _ in answered]
    assert len(users) == 7 and arrived[0] < 6
    assert users.index("other") <= arrived[0] + 1  # after at most the one flood answer then running
    assert all(text and not text.startswith("⚠") for _, text in answered)


def test_over_the_per_user_bound_the_question_is_refused(bot):
    gate = Gate(slots=1, per_user=1)
    held = gate.enter("a")

    async def first_view():
        async for view in respond_in_turn(gate, "a", bot, "Qui a appelé Poutine ?", ui="fr"):
            return view

    view = asyncio.run(first_view())
    assert view[0][-1]["content"].startswith("⚠ Vous avez déjà 1 question")
    assert gate.state() == ({"a": 1}, {})
    gate.release(held)
