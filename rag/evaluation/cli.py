"""The evaluation commands: `rag eval …` (run, report, compare, sweep, piaf, gate,
faithfulness-check) and `rag testset …` (check, draft). Thin adapters over rag.evaluation.runner,
rag.evaluation.report, rag.evaluation.compare, rag.evaluation.sweep, rag.evaluation.piaf,
rag.evaluation.gate, rag.evaluation.agreement and rag.evaluation.testset.

Like `rag.cli.main`, this module imports nothing heavy at import time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rag.cli.options import VALUE_OPTIONS, settings_from
from rag.evaluation import testset_commands

EVAL_SUBCOMMANDS = ("compare", "report", "sweep", "piaf", "gate", "faithfulness-check")
EVAL_USAGE = "\n".join(
    [
        "rag eval TESTSET --out RESULTS.jsonl [--retrieval-only] [--limit N] [--resume]"
        " [--report DIR] [--semantic]",
        "       rag eval report RESULTS.jsonl --report DIR [--semantic] [--passages-from SOURCES]",
        "       rag eval compare RUN_A.jsonl RUN_B.jsonl",
        "       rag eval sweep TESTSET --grid NAME=V1,V2 [--grid …] --out DIR [--retrieval-only]"
        " [--limit N]",
        "       rag eval piaf [--limit N] [--out FILE] [--resume] [--retrieval-only] [--corpus F]"
        " [--questions F] [--index DIR]",
        "       rag eval gate [--thresholds FILE] [--workdir DIR] [--record]",
        "       rag eval faithfulness-check [--labels FILE]",
    ]
)


def add_parsers(sub) -> None:
    """`rag eval`, its hidden sub-commands (see `route`) and `rag testset`."""
    ev = sub.add_parser(
        "eval",
        help="score answers against a JSONL test set (and compare, report, sweep, piaf, gate)",
        usage=EVAL_USAGE,
    )
    ev.add_argument("testset", type=Path)
    ev.add_argument("--out", type=Path, required=True, help="per-case results (JSONL)")
    ev.add_argument("--retrieval-only", action="store_true", help="skip generation")
    ev.add_argument("--limit", type=int, help="only the first N cases")
    ev.add_argument(
        "--resume", action="store_true", help="keep the finished cases already in --out"
    )
    ev.add_argument(
        "--report", type=Path, metavar="DIR", help="also write report.md and report.html there"
    )
    ev.add_argument(
        "--semantic", action="store_true", help="add answer/reference similarity (loads e5-small)"
    )
    _eval_subparsers(sub)
    testset_commands.add_parser(sub)


def _eval_subparsers(sub) -> None:
    """`rag eval compare …` and friends, registered as hidden commands that `route` maps to."""
    rep = sub.add_parser(
        "eval-report",
        prog="rag eval report",
        description="report.md and report.html for a results file",
    )
    rep.add_argument("results", type=Path)
    rep.add_argument("--report", type=Path, metavar="DIR", required=True, help="output folder")
    rep.add_argument(
        "--semantic", action="store_true", help="add answer/reference similarity (loads e5-small)"
    )
    rep.add_argument(
        "--passages-from",
        type=Path,
        nargs="+",
        metavar="SOURCES",
        help="older results without cited passage text: recover it from these documents",
    )
    rep.add_argument("--title", default=None, help="report title (default: the results file name)")

    cmp_ = sub.add_parser(
        "eval-compare", prog="rag eval compare", description="metric deltas and flipped cases"
    )
    cmp_.add_argument("run_a", type=Path)
    cmp_.add_argument("run_b", type=Path)

    sw = sub.add_parser(
        "eval-sweep",
        prog="rag eval sweep",
        description="one evaluation per combination of settings",
    )
    sw.add_argument("testset", type=Path)
    sw.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="NAME=V1,V2",
        help="a Settings field and values",
    )
    sw.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for <combo>.jsonl and sweep.md",
    )
    sw.add_argument("--retrieval-only", action="store_true", help="skip generation")
    sw.add_argument("--limit", type=int, help="only the first N cases")

    pf = sub.add_parser(
        "eval-piaf",
        prog="rag eval piaf",
        description="build the PIAF index and run its dev questions",
    )
    pf.add_argument("--limit", type=int, help="only the first N questions")
    pf.add_argument(
        "--out", type=Path, help="per-case results (default results/piaf[-retrieval].jsonl)"
    )
    pf.add_argument(
        "--resume", action="store_true", help="keep the finished cases already in --out"
    )
    pf.add_argument(
        "--retrieval-only", action="store_true", help="skip generation (top 20 unless --top-k)"
    )
    pf.add_argument("--corpus", type=Path, help="PIAF corpus.jsonl")
    pf.add_argument("--questions", type=Path, help="PIAF dev_questions.jsonl")
    pf.add_argument(
        "--index", dest="piaf_index", type=Path, help="PIAF index folder (default .rag-piaf)"
    )

    gt = sub.add_parser(
        "eval-gate",
        prog="rag eval gate",
        description="retrieval quality gate against evals/thresholds.json",
    )
    gt.add_argument(
        "--thresholds", type=Path, help="thresholds file (default evals/thresholds.json)"
    )
    gt.add_argument(
        "--workdir", type=Path, help="indexes and results of the gate (default .rag-gate/)"
    )
    gt.add_argument("--corpus", type=Path, help="PIAF corpus.jsonl")
    gt.add_argument("--questions", type=Path, help="PIAF dev_questions.jsonl")
    gt.add_argument("--seeds", type=Path, help="seed articles folder (default seeds/)")
    gt.add_argument("--testset", type=Path, help="seeds test set (default evals/seeds.jsonl)")
    gt.add_argument(
        "--record",
        action="store_true",
        help="write the measured values and new thresholds to the file",
    )

    fc = sub.add_parser(
        "eval-faithfulness-check",
        prog="rag eval faithfulness-check",
        description="the faithfulness checker against hand-labelled sentences",
    )
    fc.add_argument("--labels", type=Path, help="labels (default evals/faithfulness_labels.jsonl)")


def route(argv: list[str], value_options: tuple[str, ...] = VALUE_OPTIONS) -> list[str]:
    """`rag [options] eval compare …` -> `rag [options] eval-compare …`.

    argparse cannot have both a positional test set (`rag eval TESTSET`) and sub-commands under
    `eval`, so a first word after `eval` that names a sub-command selects a hidden command.
    `value_options` are the global options that take a value (skipped with it).
    """
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in value_options else 1
    if i + 1 < len(argv) and argv[i] == "eval" and argv[i + 1] in EVAL_SUBCOMMANDS:
        return [*argv[:i], f"eval-{argv[i + 1]}", *argv[i + 2 :]]
    return list(argv)


def _finish_results(args, results: list[dict], settings) -> None:
    """--semantic (stored on the lines) and --report, shared by `eval` and `eval report`."""
    from rag.evaluation.runner import add_semantic_similarity

    if args.semantic:
        from rag.index.embed import build_embedder

        add_semantic_similarity(results, build_embedder(settings))
    if args.report:
        from rag.evaluation.report import write_report

        title = (
            getattr(args, "title", None)
            or f"Evaluation report: {getattr(args, 'results', None) or args.out}"
        )
        md, page = write_report(results, args.report, title, _report_notes())
        print(f"report: {md} and {page}")


def _report_notes() -> list[str]:
    from rag.evaluation.agreement import LABELS, agreement, load_labels

    note = (
        "Faithfulness = share of answer sentences whose new words are mostly (≥ 60 %) in their "
        "cited passages and which add no number the passages lack (word overlap, not entailment)."
    )
    if LABELS.exists():
        a = agreement(load_labels(LABELS))
        note += (
            f" On {a.n} hand-labelled sentences it agrees with a person"
            f" {100 * a.agreement:.0f} % of the time."
        )
    return [note]


def cmd_eval(args) -> int:
    from rag.evaluation.metrics import format_summary, summarize
    from rag.evaluation.runner import load_results, load_testset, run_eval, write_results
    from rag.pipeline import RAG

    settings = settings_from(args)
    cases = load_testset(args.testset)
    summary = run_eval(
        RAG(settings),
        cases,
        args.out,
        retrieval_only=args.retrieval_only,
        limit=args.limit,
        resume=args.resume,
    )
    if args.semantic or args.report:
        selected = {c["id"] for c in cases[: args.limit]}
        written = load_results(args.out)  # with --resume it may hold cases beyond --limit
        results = [r for r in written if r["id"] in selected]
        _finish_results(args, results, settings)
        if args.semantic:
            write_results(args.out, written)  # the similarity is kept on the lines
        summary = summarize(results)
    print(format_summary(summary))
    return 0


def cmd_eval_report(args) -> int:
    from rag.evaluation.metrics import format_summary, summarize
    from rag.evaluation.runner import add_passages, load_results

    settings = settings_from(args)
    results = load_results(args.results)
    if args.passages_from:
        from rag.index.ingest import chunk_document, load_sources

        docs = load_sources(args.passages_from, settings.index.max_file_bytes).documents
        chunks = [
            c
            for d in docs
            for c in chunk_document(d, settings.index.chunk_size, settings.index.chunk_overlap)
        ]
        print(
            f"cited passages recovered from {len(docs)} documents: {add_passages(results, chunks)}"
        )
    _finish_results(args, results, settings)
    print(format_summary(summarize(results)))
    return 0


def cmd_eval_compare(args) -> int:
    from rag.evaluation.compare import compare
    from rag.evaluation.runner import load_results

    print(
        compare(
            load_results(args.run_a), load_results(args.run_b), (str(args.run_a), str(args.run_b))
        )
    )
    return 0


def cmd_eval_sweep(args) -> int:
    from rag.evaluation.runner import load_testset
    from rag.evaluation.sweep import format_table, parse_grid, run_sweep
    from rag.pipeline import RAG

    grid = parse_grid(args.grid)
    cases = load_testset(args.testset)
    shared: dict[tuple, object] = {}

    def once(key: tuple, build):
        if key not in shared:
            shared[key] = build()
        return shared[key]

    def make_bot(settings, own_index: bool):
        # The models load once and serve every combination that does not change them.
        embedder = once(
            ("embedder", settings.index.embedder, settings.generation.threads),
            lambda: RAG(settings).embedder,
        )
        llm_key = (
            "llm",
            settings.generation.llm,
            settings.generation.model_file,
            settings.generation.quantize,
            settings.advanced.prefill,
            settings.advanced.fast_decode,
            settings.generation.threads,
        )
        llm = None if args.retrieval_only else once(llm_key, lambda: RAG(settings).llm)
        bot = RAG(settings, llm=llm, embedder=embedder)
        if own_index:
            bot.ingest()
        return bot

    rows = run_sweep(
        make_bot, settings_from(args), cases, args.out, grid, args.retrieval_only, args.limit
    )
    print(format_table(rows))
    print(f"\nper-case results and sweep.md in {args.out}/")
    return 0


def cmd_eval_piaf(args) -> int:
    from rag.evaluation import piaf
    from rag.evaluation.metrics import format_summary
    from rag.evaluation.runner import load_testset, run_eval
    from rag.pipeline import RAG

    corpus = piaf.require(args.corpus or piaf.corpus_path(), "corpus")
    questions = piaf.require(args.questions or piaf.questions_path(), "questions")
    settings = piaf.piaf_settings(
        settings_from(args), corpus, args.piaf_index or args.index or piaf.INDEX
    )
    if args.retrieval_only and args.top_k is None:
        settings = settings.updated(top_k=piaf.RETRIEVAL_TOP_K)
    out = args.out or Path("results") / (
        "piaf-retrieval.jsonl" if args.retrieval_only else "piaf.jsonl"
    )
    bot = RAG(settings)
    print(f"{settings.index.index_dir}/: {bot.ingest().summary()}", file=sys.stderr)
    summary = run_eval(
        bot,
        load_testset(questions),
        out,
        retrieval_only=args.retrieval_only,
        limit=args.limit,
        resume=args.resume,
    )
    print(format_summary(summary))
    print(f"per-case results: {out}")
    return 0


def cmd_eval_gate(args) -> int:
    from rag.evaluation import gate, piaf

    path = args.thresholds or gate.THRESHOLDS
    recorded = gate.load_thresholds(path)
    measured = gate.measure(
        settings_from(args),
        recorded["setup"],
        args.workdir or gate.WORKDIR,
        args.seeds or Path("seeds"),
        args.testset or Path("evals/seeds.jsonl"),
        args.corpus or piaf.corpus_path(),
        args.questions or piaf.questions_path(),
    )
    if args.record:
        gate.record(path, recorded, measured)
        recorded = gate.load_thresholds(path)
        print(f"recorded in {path}")
    print(gate.format_gate(measured, recorded["thresholds"]))
    failed = gate.failures(measured, recorded["thresholds"])
    for line in failed:
        print(f"FAIL: {line}", file=sys.stderr)
    if failed:
        print(f"quality gate failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    print("quality gate passed")
    return 0


def cmd_eval_faithfulness_check(args) -> int:
    from rag.evaluation.agreement import LABELS, agreement, format_agreement, load_labels

    print(format_agreement(agreement(load_labels(args.labels or LABELS))))
    return 0


COMMANDS = {
    "eval": cmd_eval,
    "eval-report": cmd_eval_report,
    "eval-compare": cmd_eval_compare,
    "eval-sweep": cmd_eval_sweep,
    "eval-piaf": cmd_eval_piaf,
    "eval-gate": cmd_eval_gate,
    "eval-faithfulness-check": cmd_eval_faithfulness_check,
    "testset": lambda args: testset_commands.TESTSET_COMMANDS[args.testset_command](args),
}
