"""The `rag` command: ingest, ask, chat, doctor here; eval and testset come from the evaluation
plugin (`rag.evaluation.cli`, an entry point). A thin adapter over `rag.RAG`.

Heavy libraries are imported only inside the command that needs them, so `rag --help` is fast.
Errors the user can fix are printed as one line (`Error: …`) with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.cli.options import VALUE_OPTIONS, add_global_options, settings_from
from rag.core.offline import offline_environment

# Commands that other packages add: each entry point names a module with `add_parsers(sub)`,
# `COMMANDS` (name -> function) and `route(argv, value_options)` (see rag.evaluation.cli).
PLUGIN_GROUP = "rag.commands"


def plugins() -> list:
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda ep: ep.name)]


def parser(extensions: list | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag", description="Cited answers from your news articles, offline."
    )
    add_global_options(p)
    sub = p.add_subparsers(
        dest="command", required=True, metavar="{ingest,ask,chat,doctor,users,eval,testset}"
    )

    from rag.index.readers import SUFFIXES  # light: no reader's library is imported here

    ing = sub.add_parser("ingest", help=f"index folders and files ({' '.join(SUFFIXES)})")
    ing.add_argument(
        "paths", nargs="*", type=Path, help="sources (default: seeds/, or RAG_SOURCES)"
    )
    ing.add_argument("--rebuild", action="store_true", help="drop the index and build it anew")
    ing.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="wait this long for another ingest on the same index to finish "
        "(default: refuse at once)",
    )

    ask = sub.add_parser("ask", help="ask one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    add_scope_options(ask)

    chat = sub.add_parser(
        "chat", help="a conversation in the terminal (follow-ups use the history)"
    )
    add_scope_options(chat)

    doc = sub.add_parser(
        "doctor",
        help="this CPU's kernel throughputs, the kernels chosen and the backend 'auto' runs",
    )
    doc.add_argument(
        "--again", action="store_true", help="measure again instead of reading the cache"
    )

    users = sub.add_parser(
        "users", help="the app's logins: add, remove, list (the users file, RAG_USERS_FILE)"
    )
    users.add_argument("action", choices=["add", "remove", "list"])
    users.add_argument("name", nargs="?", help="the user name (add, remove)")
    users.add_argument(
        "--role",
        choices=["reader", "editor"],
        default="reader",
        help="reader: asks questions; editor: also adds and removes documents",
    )
    users.add_argument("--file", type=Path, help="the users file (default: RAG_USERS_FILE)")
    users.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin, not the terminal",
    )

    for plugin in plugins() if extensions is None else extensions:
        plugin.add_parsers(sub)
    return p


def add_scope_options(command: argparse.ArgumentParser) -> None:
    """--since, --until, --outlet: the articles a question may be answered from."""
    command.add_argument(
        "--since",
        metavar="DATE",
        help="only articles published on or after this day (YYYY-MM-DD, YYYY-MM or YYYY); "
        "articles without a known publication date are left out",
    )
    command.add_argument(
        "--until",
        metavar="DATE",
        help="only articles published on or before this day (YYYY-MM-DD, YYYY-MM or YYYY); "
        "articles without a known publication date are left out",
    )
    command.add_argument(
        "--outlet",
        action="append",
        metavar="NAME",
        help="only articles of this outlet, as the documents list names it (repeat for several)",
    )


def _say_no_match(bot, scope, answer) -> None:
    """On stderr, when --since/--until/--outlet left no article to search: what the index has."""
    if scope.empty or answer.passages:
        return
    known = ", ".join(bot.outlets()) or "none recorded"
    print(
        f"No indexed article matches --since/--until/--outlet (the index's outlets: {known}).",
        file=sys.stderr,
    )


def _scope(args):
    """The Scope of --since, --until and --outlet (a bad date: a one-line InputError)."""
    from rag.retrieve.scope import scope_from

    return scope_from(args.since, args.until, args.outlet)


def main(argv: list[str] | None = None) -> int:
    extensions = plugins()
    argv = sys.argv[1:] if argv is None else list(argv)
    for plugin in extensions:
        argv = plugin.route(argv, VALUE_OPTIONS)
    args = parser(extensions).parse_args(argv)
    commands = {**COMMANDS, **{k: v for plugin in extensions for k, v in plugin.COMMANDS.items()}}
    offline_environment()
    from rag.core.errors import RagError

    try:
        return commands[args.command](args)
    except RagError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def cmd_ingest(args) -> int:
    from rag.pipeline import RAG

    settings = settings_from(args)
    report = RAG(settings).ingest(rebuild=args.rebuild)
    _audit_ingest(settings, report)
    print(f"{settings.index.index_dir}/: {report.summary()}")
    for line in report.details():
        print(line)
    return 0


def _audit_ingest(settings, report) -> None:
    """What `rag ingest` changed, in the audit log beside the app's uploads and removals."""
    import getpass

    from rag.index import audit

    audit.record_ingest(settings, f"cli:{getpass.getuser()}", report)


def cmd_users(args) -> int:
    import getpass

    from rag.core.errors import InputError
    from rag.core.users import add_user, load_users, remove_user

    path = args.file or settings_from(args).app.users_file
    if path is None:
        raise InputError("no users file: pass --file PATH or set RAG_USERS_FILE")
    if args.action == "list":
        for user in load_users(path).values():
            print(f"{user.name}\t{user.role}")
        return 0
    if not args.name:
        raise InputError(f"'rag users {args.action}' needs a user name")
    if args.action == "remove":
        remove_user(path, args.name)
        print(f"{path}: removed {args.name}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise InputError("the two passwords differ — nothing changed")
    new = add_user(path, args.name, password, args.role)
    print(f"{path}: {'added' if new else 'updated'} {args.name} ({args.role})")
    return 0


def cmd_ask(args) -> int:
    from rag.pipeline import RAG

    scope = _scope(args)
    bot = RAG(settings_from(args))
    answer = live_draft(bot.stream(args.question, scope=scope), show=not args.json)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(render_answer(answer))
    _say_no_match(bot, scope, answer)
    return 0


def cmd_doctor(args) -> int:
    """Print what rag.llm.transformers.kernels measured on this machine and chose (measured now
    when not cached)."""
    from rag.llm.auto import choose_backend
    from rag.llm.transformers import kernels

    settings = settings_from(args)
    choice = choose_backend(settings, again=args.again)
    for line in choice.lines():
        print(line)
    for engine in ("transformers", "llamacpp"):
        p = choice.backend.get(engine)
        if p:
            print(
                f"  {engine:<12} first token {p['first_token_s']:5.1f} s "
                f"@{kernels.ANSWER_PROMPT} tokens, "
                f"decode {p['decode_tps']:5.1f} tok/s, answer {p['answer_s']:5.1f} s"
                + (" (measured)" if engine == "llamacpp" else " (predicted from the kernels)")
            )
    forced = settings.generation.llm if settings.generation.llm != "auto" else None
    print(
        f"backend in use: {forced or choice.backend.get('chosen')}"
        + (" (forced by RAG_LLM / --llm)" if forced else " (RAG_LLM=auto)")
    )
    print(
        "cache: "
        f"{Path(settings.generation.model_cache).expanduser() / f'kernels-{choice.key}.json'}"
    )
    return 0


def live_draft(stream, show: bool = True, out=None):
    """Consume `RAG.stream`; show its tokens live on a terminal (stderr), then erase them, and
    return the final Answer.

    The streamed tokens are the model's unchecked draft: the checks may withhold it or change
    its citations. So the draft is only ever shown on an interactive terminal, and erased once
    the checked answer is known; stdout (a file, a pipe) gets only the checked answer.
    """
    from rag.core.types import Answer

    out = out or sys.stderr
    live = show and out.isatty()
    shown = ""
    answer = None
    for item in stream:
        if isinstance(item, Answer):
            answer = item
        elif live:
            out.write(item)
            out.flush()
            shown += item
    assert answer is not None
    if shown:
        out.write(_erase(shown))
        out.flush()
    return answer


def _erase(text: str) -> str:
    """Terminal codes that clear `text` just written from the start of a line (wrapped lines
    included) and put the cursor back at that start."""
    import shutil

    width = max(1, shutil.get_terminal_size().columns)
    rows = sum(max(1, -(-len(line) // width)) for line in text.split("\n"))
    return "\r\033[K" + "\033[A\033[K" * (rows - 1)


def render_answer(answer) -> str:
    """The final answer with its sources (outlet, date, title, link) and quotes, for the terminal.

    [1] Wikinews, 31 janvier 2017 — Un titre (https://fr.wikinews.org/wiki/…)
        « the quoted sentence »
    """
    from rag.answer.byline import byline, web_link

    lines = ([f"» {answer.short}"] if answer.short else []) + [answer.text]
    for c in answer.citations:
        url = web_link(c.url)
        lines.append(f"  [{c.number}] {byline(c, answer.language)}" + (f" ({url})" if url else ""))
        lines.append(f"      « {c.quote} »")
    t = answer.timings
    ttft = f"{t.first_token_s:.1f}s" if t.first_token_s is not None else "-"
    lines.append(
        f"  (retrieval {t.retrieval_s * 1000:.0f} ms, first token {ttft}, total {t.total_s:.1f}s)"
    )
    return "\n".join(lines)


def cmd_chat(args) -> int:
    from rag.core.errors import InputError
    from rag.pipeline import RAG

    scope = _scope(args)
    bot = RAG(settings_from(args))
    history: list[dict[str, str]] = []
    bot.warm(prime=True)  # models loaded and primed before the first prompt
    print("Ask about the articles (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        try:
            answer = live_draft(bot.stream(question, history, scope=scope))
        except InputError as exc:
            print(f"Error: {exc}")
            continue
        print(render_answer(answer))
        _say_no_match(bot, scope, answer)
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]


COMMANDS = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "doctor": cmd_doctor,
    "users": cmd_users,
}

if __name__ == "__main__":
    sys.exit(main())
