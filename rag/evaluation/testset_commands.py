"""`rag testset check` and `rag testset draft`: validate a test set against the index, and draft
cases from the indexed documents for a person to review. Registered by rag.evaluation.cli.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rag.cli.options import settings_from


def add_parser(sub) -> None:
    ts = sub.add_parser("testset", help="check a test set, or draft candidate cases from documents")
    tsub = ts.add_subparsers(dest="testset_command", required=True)
    ck = tsub.add_parser("check", help="report every problem of a JSONL test set (exit 1 if any)")
    ck.add_argument("file", type=Path)
    ck.add_argument(
        "--index", dest="check_index", type=Path, help="index whose documents the sources must name"
    )
    ck.add_argument("--no-index", action="store_true", help="skip the gold-source check")
    dr = tsub.add_parser("draft", help="draft questions from documents for a person to review")
    dr.add_argument(
        "source", type=Path, help="a folder of articles, a .jsonl corpus, or an index folder"
    )
    dr.add_argument("--out", type=Path, required=True, help="draft cases (JSONL)")
    dr.add_argument("--per-doc", type=int, default=3, help="questions per document (default 3)")


def cmd_testset_check(args) -> int:
    from rag.evaluation.testset import check

    doc_ids, where, problems = None, "", []
    if not args.no_index:
        settings = settings_from(args)
        if args.check_index:
            settings = settings.updated(index_dir=args.check_index)
        doc_ids, where, missing = _indexed_documents(settings)
        if missing:
            problems.append(missing)
    problems = [
        f"{args.file}:{p}" for p in check(args.file, doc_ids, f"the index at {where}")
    ] + problems
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {args.file}", file=sys.stderr)
        return 1
    checked = f"; every gold source is in the index at {where}" if doc_ids is not None else ""
    print(f"{args.file}: no problems{checked}")
    return 0


def _indexed_documents(settings) -> tuple[set[str] | None, str, str]:
    """(document ids, where, "" or the one-line reason they could not be read)."""
    from rag.index.embed import build_embedder
    from rag.index.store import Store, exists

    where = f"{settings.index.index_dir}/"
    if not settings.server.chroma_host and not exists(settings):
        return (
            None,
            where,
            (
                f"cannot check gold sources: no index at {where} — build it with "
                f"'rag --index {settings.index.index_dir} ingest SOURCES…' (or pass --no-index)"
            ),
        )
    store = Store(settings, build_embedder(settings).id)
    return set(store.document_hashes()), where, ""


def cmd_testset_draft(args) -> int:
    from rag.evaluation.testset import documents_from_chunks, draft_cases, to_jsonl

    settings = settings_from(args)
    if (args.source / "chroma.sqlite3").exists():
        from rag.index.embed import build_embedder
        from rag.index.store import Store

        settings = settings.updated(index_dir=args.source)
        docs = documents_from_chunks(Store(settings, build_embedder(settings).id).all_chunks())
    else:
        from rag.index.ingest import load_sources

        docs = load_sources([args.source], settings.index.max_file_bytes).documents
    drafts = draft_cases(docs, args.per_doc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_jsonl(drafts), encoding="utf-8")
    print(
        f"{len(drafts)} draft cases from {len(docs)} documents in {args.out} — "
        'review each, fix the question, then remove "draft" and "status" before using it'
    )
    return 0


TESTSET_COMMANDS = {"check": cmd_testset_check, "draft": cmd_testset_draft}
