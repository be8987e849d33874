"""Many users at once: concurrent conversations against the running Gradio app, through its API.

    python benchmarks/load_test.py [--conversations 20] [--turns 2] [--llm fake|llamacpp|openai|transformers]
                                   [--concurrency 1] [--timeout 600] [--login] [--flood 20]
                                   [--answer-delay 0.5]

Starts `app.py`'s page on 127.0.0.1 (a free port) over a generated corpus: one short article per
marker word (a made-up name and the town it belongs to). Conversation i asks only about marker i,
turn after turn, each conversation from its own gradio_client session. Reports turn latency
p50/p95, errors (must be 0) and cross-talk: a conversation whose chat shows another marker, or
turns that are not its own (per-session history must never mix). The fake LLM is the default (it
measures the app, queue and retrieval); `--llm llamacpp` measures the real model.

`--login` serves the page behind its login (a users file, one user per conversation, each logging in
through gradio_client). `--flood N` adds one more user who sends N questions at once just before the
conversations start: with the fair queue, a conversation's first answer waits for at most one of
them, which `flood_wait_answers` reports (the slowest first turn's wait beyond its own answer, in
answer times). `--answer-delay`
makes each fake answer take that long, so that an answer's time is known and measurable.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import re
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.cli.main import offline_environment

MARKERS = [
    "abricotin",
    "baleinor",
    "cactusine",
    "dauphinel",
    "ecureuilo",
    "flamantis",
    "girafon",
    "hibouzar",
    "iguanex",
    "jaguaro",
    "koalimo",
    "lemurix",
    "mangoust",
    "narvalix",
    "ocelotin",
    "pelicor",
    "quokkane",
    "renardel",
    "saumonix",
    "tatouzor",
    "urubuan",
    "vigognel",
    "wapitor",
    "xerusol",
    "yakimor",
    "zebrune",
]  # distinct in their first six letters: the hashing fake embedder keys words on them
TOWNS = [
    "Albi",
    "Brest",
    "Cahors",
    "Dole",
    "Evian",
    "Figeac",
    "Gap",
    "Hyeres",
    "Istres",
    "Joigny",
    "Laval",
    "Millau",
    "Nevers",
    "Orange",
    "Pau",
    "Quimper",
    "Rodez",
    "Sete",
    "Tulle",
    "Uzes",
    "Vannes",
    "Wissant",
    "Xonrupt",
    "Yvetot",
    "Zonza",
    "Agen",
]


def write_corpus(folder: Path, n: int) -> None:
    """One article per marker: its first sentence names the marker (what the fake LLM quotes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (marker, town) in enumerate(zip(MARKERS[:n], TOWNS)):
        text = (
            f"Le {marker} est une fête organisée chaque année à {town}. "
            f"Les habitants de {town} préparent le {marker} pendant tout l'hiver. "
            f"Selon le maire de {town}, le {marker} attire des milliers de visiteurs."
        )
        (folder / f"{i:02d}_{marker}.txt").write_text(text, encoding="utf-8")


def questions(marker: str, turns: int) -> list[str]:
    asked = [
        f"Qu'est-ce que le {marker} ?",
        f"Dans quelle ville a lieu le {marker} ?",
        f"Qui prépare le {marker} ?",
        f"Combien de visiteurs attire le {marker} ?",
    ]
    return [asked[t % len(asked)] for t in range(turns)]


@dataclass
class Result:
    marker: str
    latencies: list[float] = field(default_factory=list)
    error: str = ""
    cross_talk: str = ""


def converse(
    url: str, marker: str, turns: int, strict: bool = True, auth: tuple[str, str] | None = None
) -> Result:
    """One user: its own session, `turns` questions about its marker, checking every reply."""
    from gradio_client import Client

    result = Result(marker)
    try:
        client = Client(url, verbose=False, auth=auth)
        for t, question in enumerate(questions(marker, turns), start=1):
            start = time.perf_counter()
            chat, _sources, _latency, _box = client.predict(
                question, 5, "auto", False, "fr", api_name="/ask"
            )
            result.latencies.append(time.perf_counter() - start)
            result.cross_talk = cross_talk(chat, marker, t, strict) or result.cross_talk
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    return result


def cross_talk(chat: list[dict], marker: str, turns: int, strict: bool = True) -> str:
    """Why this conversation's chat is not its own, or "".

    Any other conversation's marker or town is cross-talk; `strict` (the fake LLM, which quotes
    the passage) also requires the last answer to name the conversation's own marker.
    """
    if len(chat) != 2 * turns:
        return f"{len(chat)} messages after {turns} turns"
    i = MARKERS.index(marker)
    others = [m for m in MARKERS if m != marker] + [t for t in TOWNS if t != TOWNS[i]]
    for message in chat:
        text = (
            message["content"] if isinstance(message["content"], str) else str(message["content"])
        )
        foreign = [w for w in others if re.search(rf"\b{w}\b", text)]
        if foreign:
            return f"{message['role']} message mentions {foreign[0]}"
        if message["role"] == "user" and marker not in text:
            return "a user message that this conversation did not send"
    if strict and marker not in str(chat[-1]["content"]):
        return "the last answer does not mention the conversation's marker"
    return ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")
    )


def password(user: str) -> str:
    return f"{user}-password"


def start_app(
    root: Path,
    n: int,
    llm: str,
    concurrency: int,
    users: list[str] | None = None,
    flood: int = 0,
    answer_delay: float = 0.0,
) -> tuple[str, object]:
    """Index the corpus and serve the page on a free port (behind a login for `users`);
    returns its URL and the Blocks."""
    from rag.core.settings import Settings
    from rag.core.users import add_user
    from rag.pipeline import RAG
    from rag.ui import app

    corpus = root / "corpus"
    write_corpus(corpus, n)
    fake = llm == "fake"
    users_file = None
    if users:
        users_file = root / "users.json"
        for user in users:
            add_user(users_file, user, password(user), "reader")
    settings = Settings(
        sources=[corpus],
        index_dir=root / "index",
        llm=llm,
        concurrency=concurrency,
        embedder="fake" if fake else "e5-small",
        min_dense_score=0.0,  # always generate: that is what is measured
        # the fake's replies are no graded answers: keep them all (its marker must come back)
        min_confidence=0.0 if fake else Settings().answer.min_confidence,
        users_file=users_file,
        user_queue=max(5, flood),
        login_attempts=len(users or ()) + 5,
    )
    bot = RAG(settings, llm=slow_fake(answer_delay) if fake and answer_delay else None)
    print(f"index: {bot.ingest(progress=False).summary()}", flush=True)
    bot.warm()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app(bot)
    app.launch(demo, port, block=False)
    return f"http://127.0.0.1:{port}/", demo


def slow_fake(delay: float):
    """The fake LLM, each answer taking `delay` seconds more (the other tasks as fast as ever)."""
    from rag.testing.fakes import FakeLLM

    class SlowFake(FakeLLM):
        def stream(self, messages, max_new_tokens=160):
            if self.task == "answer":
                time.sleep(delay)
            return super().stream(messages, max_new_tokens)

    return SlowFake()


def flood_user(url: str, n: int, auth: tuple[str, str] | None) -> list:
    """One user's `n` questions sent at once (gradio_client jobs), about no conversation's marker."""
    from gradio_client import Client

    client = Client(url, verbose=False, auth=auth)
    return [
        client.submit(f"Question {i} de l'inondation ?", 5, "auto", False, "fr", api_name="/ask")
        for i in range(n)
    ]


def run(
    conversations: int = 20,
    turns: int = 2,
    llm: str = "fake",
    concurrency: int = 1,
    timeout: float = 600.0,
    root: Path | None = None,
    login: bool = False,
    flood: int = 0,
    answer_delay: float = 0.0,
) -> dict:
    """Start the app, run the conversations at once, stop the app; return the report."""
    offline_environment()
    if conversations > len(MARKERS):
        raise SystemExit(f"at most {len(MARKERS)} conversations (one marker word each)")
    users = [f"user{i:02d}" for i in range(conversations)] + ["flood"] if login else None
    auth = (lambda user: (user, password(user))) if login else (lambda user: None)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        url, demo = start_app(
            Path(tmp), conversations, llm, concurrency, users, flood, answer_delay
        )
        jobs = flood_user(url, flood, auth("flood")) if flood else []
        if jobs:
            time.sleep(max(0.5, answer_delay / 2))  # the flood is queued, its first answer running
        start = time.perf_counter()
        pool = cf.ThreadPoolExecutor(max_workers=conversations)
        futures = [
            pool.submit(converse, url, m, turns, llm == "fake", auth(f"user{i:02d}"))
            for i, m in enumerate(MARKERS[:conversations])
        ]
        done, late = cf.wait(futures, timeout=timeout)
        wall = time.perf_counter() - start
        results = [f.result() for f in done]
        results += [Result("?", error=f"no answer within {timeout:.0f} s") for _ in late]
        flood_errors = []
        for job in jobs:
            try:
                chat = job.result(timeout=max(10.0, timeout - wall))[0]
                last = str(chat[-1]["content"]) if chat else "no answer"
                if not chat or last.startswith("⚠"):  # refused (over user_queue) or failed
                    flood_errors.append(f"flood: {last}"[:300])
            except Exception as exc:
                flood_errors.append(f"flood: {type(exc).__name__}: {exc}"[:300])
        pool.shutdown(wait=False, cancel_futures=True)
        demo.close()
    latencies = [x for r in results for x in r.latencies]
    first = [r.latencies[0] for r in results if r.latencies]
    return {
        "conversations": conversations,
        "turns": turns,
        "llm": llm,
        "concurrency": concurrency,
        "login": login,
        "flood": flood,
        "answer_delay_s": answer_delay,
        "answers": len(latencies),
        "wall_s": wall,
        "p50_s": percentile(latencies, 0.5),
        "p95_s": percentile(latencies, 0.95),
        "max_s": max(latencies, default=float("nan")),
        "first_max_s": max(first, default=float("nan")),
        # how many answers besides its own the slowest first turn waited for
        "flood_wait_answers": (max(first, default=float("nan")) / answer_delay - 1)
        if flood and answer_delay
        else None,
        "errors": [f"{r.marker}: {r.error}" for r in results if r.error] + flood_errors,
        "cross_talk": [f"{r.marker}: {r.cross_talk}" for r in results if r.cross_talk],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conversations", type=int, default=20)
    p.add_argument("--turns", type=int, default=2)
    p.add_argument("--llm", default="fake", choices=["fake", "llamacpp", "openai", "transformers"])
    p.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("RAG_CONCURRENCY", "1")),
        help="answers the app generates at once (RAG_CONCURRENCY)",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole run")
    p.add_argument(
        "--login", action="store_true", help="serve behind the login: one user per conversation"
    )
    p.add_argument(
        "--flood",
        type=int,
        default=0,
        metavar="N",
        help="one more user sends N questions at once before the conversations start",
    )
    p.add_argument(
        "--answer-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="fake LLM: each answer takes S seconds more (an answer's known time)",
    )
    args = p.parse_args()
    report = run(
        args.conversations,
        args.turns,
        args.llm,
        args.concurrency,
        args.timeout,
        login=args.login,
        flood=args.flood,
        answer_delay=args.answer_delay,
    )
    print(
        f"{report['conversations']} conversations x {report['turns']} turns, llm={report['llm']}, "
        f"concurrency={report['concurrency']}: {report['answers']} answers in {report['wall_s']:.1f} s; "
        f"turn latency p50 {report['p50_s']:.2f} s, p95 {report['p95_s']:.2f} s, max {report['max_s']:.2f} s; "
        f"errors {len(report['errors'])}; cross-talk {len(report['cross_talk'])}"
        + (" (through the login)" if report["login"] else "")
    )
    if report["flood"]:
        wait = report["flood_wait_answers"]
        print(
            f"flood: one user queued {report['flood']} questions first; the slowest first turn of the others "
            f"took {report['first_max_s']:.2f} s"
            + (
                f": its own answer and {wait:.2f} answers more ({report['answer_delay_s']:.2f} s each)"
                if wait is not None
                else ""
            )
        )
    for line in report["errors"] + report["cross_talk"]:
        print(f"  {line}")
    return 1 if report["errors"] or report["cross_talk"] else 0


if __name__ == "__main__":
    sys.exit(main())
