import json
import os
import subprocess
import sys

import pytest

from rag.cli.main import main


def run(args, tmp_path, **env):
    """The real `rag` entry point in a subprocess, with fakes and a private index."""
    full_env = {
        **os.environ,
        "RAG_EMBEDDER": "fake",
        "RAG_LLM": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "rag.cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("ingest", "ask", "chat", "eval"))


def test_ask_without_index_is_one_line_error(tmp_path):
    result = run(["ask", "Qui ?"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: no index at {tmp_path / 'index'}/ — run 'rag ingest' first"
    ]


def test_ingest_missing_folder_is_one_line_error(tmp_path):
    result = run(["ingest", str(tmp_path / "nowhere")], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no such file or folder" in result.stderr


def test_ingest_then_ask_json(tmp_path, seeds):
    first = run(["ingest", str(seeds)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "5 added" in first.stdout
    assert "5 unchanged" in run(["ingest", str(seeds)], tmp_path).stdout
    result = run(["ask", "Marc Fogel a-t-il été libéré ?", "--json"], tmp_path)
    answer = json.loads(result.stdout)
    assert answer["abstained"] is False
    assert answer["citations"][0]["source"].endswith(".txt")
    timings = {"retrieval_s", "first_token_s", "total_s", "short_s", "confidence_s"}
    assert set(answer["timings"]) == timings
    assert "short" in answer  # the exact answer (None when withheld)
    assert 0 < answer["confidence"] <= 1 and answer["signals"]["missing"] == []


def test_eval_writes_results_and_summary(tmp_path, seeds):
    run(["ingest", str(seeds)], tmp_path)
    out = tmp_path / "results.jsonl"
    result = run(["eval", "evals/seeds.jsonl", "--out", str(out), "--limit", "3"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 3 and {"answer", "cited_sources", "retrieved_sources", "ttft_s"} <= set(
        lines[0]
    )
    assert "hit@5" in result.stdout


def test_huge_question_is_refused(tmp_path, seeds):
    run(["ingest", str(seeds)], tmp_path)
    result = run(["ask", "x" * 100_000], tmp_path)
    assert result.returncode == 1 and "limit is 2,000" in result.stderr


@pytest.mark.parametrize(
    ("argv", "routed"),
    [
        (["eval", "compare", "a", "b"], ["eval-compare", "a", "b"]),
        (["--index", "x", "eval", "report", "r"], ["--index", "x", "eval-report", "r"]),
        (
            ["--fusion", "bm25", "--llm", "fake", "eval", "sweep", "t"],
            ["--fusion", "bm25", "--llm", "fake", "eval-sweep", "t"],
        ),
        (["eval", "faithfulness-check"], ["eval-faithfulness-check"]),
        (["eval", "evals/seeds.jsonl", "--out", "o"], ["eval", "evals/seeds.jsonl", "--out", "o"]),
        (
            ["eval", "--out", "o", "compare"],
            ["eval", "--out", "o", "compare"],
        ),  # a test set named "compare"
        (
            ["--index", "eval", "ask", "x"],
            ["--index", "eval", "ask", "x"],
        ),  # an index folder named "eval"
        (["ask", "eval", "compare"], ["ask", "eval", "compare"]),
    ],
)
def test_route_eval_subcommands(argv, routed):
    from rag.cli.options import VALUE_OPTIONS
    from rag.evaluation.cli import route

    assert route(argv, VALUE_OPTIONS) == routed
    assert route(argv) == routed  # the default: the same public tuple


def test_the_evaluation_commands_come_from_an_entry_point_plugin():
    from rag.cli.main import PLUGIN_GROUP, parser, plugins
    from rag.evaluation import cli as evalcli

    assert (
        evalcli in plugins()
    )  # registered in pyproject.toml, found through the installed metadata
    without = parser(extensions=[])
    with pytest.raises(SystemExit):
        without.parse_args(["eval", "t.jsonl", "--out", "o"])  # the product alone has no `eval`
    assert parser().parse_args(["eval", "t.jsonl", "--out", "o"]).command == "eval"
    assert PLUGIN_GROUP == "rag.commands"


def test_help_imports_nothing_heavy():
    code = (
        "import sys\nfrom rag.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'matplotlib', 'chromadb', 'torch', 'transformers', 'numpy', 'llama_index', 'gradio', 'tqdm'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_eval_subcommand_help_and_usage_errors(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = capsys.readouterr().out
    assert "rag eval compare RUN_A.jsonl RUN_B.jsonl" in out and "rag eval gate" in out
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "compare", "only-one.jsonl"])
    assert exit_.value.code == 2
    assert "usage: rag eval compare" in capsys.readouterr().err


def test_eval_resume_and_report_through_the_cli(tmp_path, seeds):
    run(["ingest", str(seeds)], tmp_path)
    out = tmp_path / "results.jsonl"
    first = run(["eval", "evals/seeds.jsonl", "--out", str(out), "--limit", "2"], tmp_path)
    assert first.returncode == 0, first.stderr
    second = run(
        [
            "eval",
            "evals/seeds.jsonl",
            "--out",
            str(out),
            "--limit",
            "4",
            "--resume",
            "--report",
            str(tmp_path / "rep"),
            "--semantic",
        ],
        tmp_path,
    )
    assert second.returncode == 0, second.stderr
    assert "2/4" in second.stderr  # the two finished cases counted, not run again
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["fr-01", "fr-02", "fr-03", "fr-04"]
    assert all("semantic_similarity" in r for r in lines if not r["abstained"])
    assert "semantic similarity" in second.stdout and (tmp_path / "rep" / "report.html").exists()


class _Terminal:
    """A stream that says it is a terminal and keeps what is written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, piece):
        self.text += piece

    def flush(self):
        pass


def _withheld_stream():
    from rag.core.types import Answer

    yield "Le prix du pétrole "
    yield "est de 70 dollars [1]."
    yield Answer(
        question="Quel est le prix du pétrole ?",
        text="Les articles ne le disent pas.",
        abstained=True,
    )


def test_a_withheld_draft_never_reaches_stdout_and_is_erased_from_the_terminal(monkeypatch, capsys):
    from rag.cli import main as cli
    from rag.pipeline import RAG

    terminal = _Terminal()
    answer = cli.live_draft(_withheld_stream(), out=terminal)
    assert answer.abstained
    assert terminal.text.startswith("Le prix du pétrole est de 70 dollars [1].")  # shown live…
    assert terminal.text.endswith("\r\033[K")  # …then erased
    piped = _Terminal()
    piped.isatty = lambda: False
    assert (
        cli.live_draft(_withheld_stream(), out=piped).abstained and piped.text == ""
    )  # not a terminal

    monkeypatch.setattr(
        RAG, "stream", lambda self, question, history=(), language=None, **_: _withheld_stream()
    )
    monkeypatch.setattr(cli, "settings_from", lambda args: None)
    assert main(["ask", "Quel est le prix du pétrole ?"]) == 0
    out = capsys.readouterr().out
    assert "70 dollars" not in out and out.startswith("Les articles ne le disent pas.")


def test_erase_covers_wrapped_lines(monkeypatch):
    import os
    import shutil

    from rag.cli import main as cli

    monkeypatch.setattr(shutil, "get_terminal_size", lambda *a, **k: os.terminal_size((10, 24)))
    assert cli._erase("x" * 25) == "\r\033[K" + "\033[A\033[K" * 2  # 25 characters on 3 rows
    assert cli._erase("short\nline") == "\r\033[K\033[A\033[K"
