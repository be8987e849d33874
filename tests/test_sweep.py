import json
from pathlib import Path

import pytest

from rag.cli.main import main
from rag.core.errors import InputError
from rag.core.settings import Settings
from rag.core.types import Passage
from rag.evaluation.sweep import combinations, combo_name, format_table, parse_grid, run_sweep

ROOT = Path(__file__).resolve().parent.parent

SEEDS_TESTSET = ROOT / "evals" / "seeds.jsonl"


@pytest.mark.parametrize(
    ("specs", "grid"),
    [
        (["top_k=3,5"], {"top_k": [3, 5]}),
        (
            ["fusion=rrf,bm25", "min_dense_score=0.5"],
            {"fusion": ["rrf", "bm25"], "min_dense_score": [0.5]},
        ),
        (["top-k=2"], {"top_k": [2]}),
        (["verify=true,false"], {"verify": [True, False]}),
    ],
)
def test_parse_grid_types_values_by_field(specs, grid):
    assert parse_grid(specs) == grid


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["topk=3"], r"unknown setting 'topk'; valid: .*top_k"),
        (["top_k=three"], r"--grid top_k=three: Input should be a valid integer"),
        (
            ["fusion=mean"],
            r"--grid fusion=mean: Input should be 'rrf', 'dense', 'bm25' or 'latent'",
        ),
        (["top_k"], r"write NAME=VALUE"),
        (["top_k=3", "top_k=5"], r"top_k is given twice"),
        ([], r"at least one --grid"),
    ],
)
def test_parse_grid_errors(specs, message):
    with pytest.raises(InputError, match=message):
        parse_grid(specs)


def test_combinations_and_names():
    combos = combinations({"top_k": [3, 5], "fusion": ["rrf", "bm25"]})
    assert [combo_name(c) for c in combos] == [
        "top_k=3,fusion=rrf",
        "top_k=3,fusion=bm25",
        "top_k=5,fusion=rrf",
        "top_k=5,fusion=bm25",
    ]
    assert combo_name({"index_dir": Path("/a b")}) == "index_dir=-a-b"


class RankBot:
    """Retrieval-only fake: the gold document first when top_k >= 3, else a wrong one."""

    def __init__(self, settings):
        self.settings = settings

    def retrieve(self, question):
        docs = ["d1", "d2"] if self.settings.retrieval.top_k >= 3 else ["d9"]
        return [
            Passage(source=d, chunk_id=f"{d}:0", score=1.0, text="t", rank=i)
            for i, d in enumerate(docs, 1)
        ]


def test_run_sweep_writes_a_file_per_combination_and_a_table(tmp_path):
    cases = [{"id": "q1", "question": "Q ?", "answers": ["x"], "sources": ["d1"]}]
    built = []

    def make_bot(settings, own_index):
        built.append(
            (
                settings.retrieval.top_k,
                settings.retrieval.fusion,
                own_index,
                settings.index.index_dir,
            )
        )
        return RankBot(settings)

    grid = {"top_k": [2, 3], "fusion": ["bm25"]}
    rows = run_sweep(
        make_bot, Settings(), cases, tmp_path, grid, retrieval_only=True, progress=False
    )
    assert [(c["top_k"], s["hit@1"]) for c, s in rows] == [(2, 0.0), (3, 1.0)]
    assert [b[:3] for b in built] == [(2, "bm25", False), (3, "bm25", False)]
    assert (tmp_path / "top_k=2,fusion=bm25.jsonl").exists() and (
        tmp_path / "top_k=3,fusion=bm25.jsonl"
    ).exists()
    table = (tmp_path / "sweep.md").read_text()
    assert (
        table.splitlines()[0]
        == "| top_k | fusion | cases | hit@1 | hit@5 | MRR | nDCG@10 | retr. p50 |"
    )
    assert "| 3 | bm25 | 1 | 100.0% | 100.0% | 1.000 | 1.000 |" in table


def test_index_settings_get_their_own_index(tmp_path):
    built = []
    run_sweep(
        lambda s, own: built.append((own, s.index.index_dir)) or RankBot(s),
        Settings(top_k=3),
        [{"id": "q", "question": "Q", "answers": [], "sources": ["d1"]}],
        tmp_path,
        {"chunk_size": [100], "latent_weight": [0.0, 0.75]},
        retrieval_only=True,
        progress=False,
    )
    assert built == [  # latent terms are computed at ingest: each weight gets its index too
        (True, tmp_path / "index-chunk_size=100,latent_weight=0.0"),
        (True, tmp_path / "index-chunk_size=100,latent_weight=0.75"),
    ]


def test_format_table_without_rows():
    assert format_table([]).splitlines()[0] == "| cases |"


def test_cli_sweep_with_fakes(tmp_path, settings, capsys):
    from rag.pipeline import RAG

    RAG(settings).ingest(progress=False)
    args = [
        "--embedder",
        "fake",
        "--llm",
        "fake",
        "--index",
        str(settings.index.index_dir),
        "eval",
        "sweep",
        str(SEEDS_TESTSET),
        "--grid",
        "top_k=1,5",
        "--grid",
        "fusion=bm25",
        "--out",
        str(tmp_path / "sw"),
        "--limit",
        "4",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| top_k | fusion | cases | hit@1 | hit@5 |" in out and "contains" in out
    lines = [
        json.loads(x)
        for x in (tmp_path / "sw" / "top_k=1,fusion=bm25.jsonl").read_text().splitlines()
    ]
    assert len(lines) == 4 and all(len(r["retrieved_sources"]) <= 1 for r in lines)
    assert (
        main(
            ["eval", "sweep", str(SEEDS_TESTSET), "--grid", "nope=1", "--out", str(tmp_path / "x")]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert (
        err.startswith("Error: --grid: unknown setting 'nope'; valid: ")
        and len(err.splitlines()) == 1
    )
