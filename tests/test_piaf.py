"""`rag eval piaf` on a tiny corpus in the PIAF format, with the hashing embedder."""

import json

import pytest

from rag.cli.main import main
from rag.core.errors import InputError
from rag.evaluation.piaf import subset_corpus

PARAGRAPHS = [
    (
        "piaf-a",
        "Loire",
        "La Loire est le plus long fleuve de France ; elle prend sa source au mont Gerbier-de-Jonc.",
    ),
    (
        "piaf-b",
        "Tour Eiffel",
        "La tour Eiffel a été construite par Gustave Eiffel pour l'Exposition universelle de 1889.",
    ),
    (
        "piaf-c",
        "Camembert",
        "Le camembert est un fromage au lait de vache originaire de Normandie, inventé vers 1791.",
    ),
    (
        "piaf-d",
        "Mont Blanc",
        "Le mont Blanc culmine à 4 806 mètres dans le massif alpin, entre France et Italie.",
    ),
    (
        "piaf-e",
        "Bordeaux",
        "Bordeaux est une ville portuaire du sud-ouest, connue pour ses vignobles et la Garonne.",
    ),
]
QUESTIONS = [
    ("p1", "Quel est le plus long fleuve de France ?", "La Loire", "piaf-a"),
    (
        "p2",
        "Qui a construit la tour Eiffel pour l'Exposition universelle ?",
        "Gustave Eiffel",
        "piaf-b",
    ),
    (
        "p3",
        "De quelle région le camembert au lait de vache est-il originaire ?",
        "Normandie",
        "piaf-c",
    ),
]


@pytest.fixture
def piaf(tmp_path):
    folder = tmp_path / "piaf"
    folder.mkdir()
    corpus, questions = folder / "corpus.jsonl", folder / "dev_questions.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False) + "\n"
            for i, t, x in PARAGRAPHS
        ),
        encoding="utf-8",
    )
    questions.write_text(
        "".join(
            json.dumps({"id": i, "question": q, "answers": [a], "sources": [s]}, ensure_ascii=False)
            + "\n"
            for i, q, a, s in QUESTIONS
        ),
        encoding="utf-8",
    )
    return corpus, questions


def test_subset_corpus_keeps_gold_paragraphs_then_fills_in_order(tmp_path, piaf):
    corpus, questions = piaf
    out = subset_corpus(corpus, questions, tmp_path / "sub.jsonl", n_questions=2, n_paragraphs=4)
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert ids == ["piaf-a", "piaf-b", "piaf-c", "piaf-d"]
    mtime = out.stat().st_mtime_ns
    subset_corpus(corpus, questions, out, 2, 4)
    assert out.stat().st_mtime_ns == mtime  # unchanged: not rewritten
    small = subset_corpus(corpus, questions, tmp_path / "s2.jsonl", n_questions=3, n_paragraphs=1)
    assert len(small.read_text().splitlines()) == 3  # gold paragraphs are never dropped


def test_subset_corpus_errors(tmp_path, piaf):
    corpus, questions = piaf
    with pytest.raises(InputError, match="no PIAF corpus at"):
        subset_corpus(tmp_path / "nope.jsonl", questions, tmp_path / "s.jsonl", 1, 1)
    corpus.write_text(corpus.read_text().splitlines()[1] + "\n")
    with pytest.raises(InputError, match="lacks the gold paragraph"):
        subset_corpus(corpus, questions, tmp_path / "s.jsonl", 1, 1)


def run_piaf(tmp_path, piaf, *extra):
    corpus, questions = piaf
    return main(
        [
            "--embedder",
            "fake",
            "--llm",
            "fake",
            "eval",
            "piaf",
            "--corpus",
            str(corpus),
            "--questions",
            str(questions),
            "--index",
            str(tmp_path / "piaf-index"),
            *extra,
        ]
    )


def test_eval_piaf_builds_the_index_and_runs_the_questions(tmp_path, piaf, capsys, monkeypatch):
    monkeypatch.setenv("RAG_MIN_DENSE_SCORE", "0")
    out = tmp_path / "piaf.jsonl"
    assert run_piaf(tmp_path, piaf, "--retrieval-only", "--limit", "2", "--out", str(out)) == 0
    captured = capsys.readouterr()
    assert "5 added" in captured.err and "eval" in captured.err
    assert captured.out.split()[:3] == ["cases", "2", "(2"]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["p1", "p2"]
    assert all(r["retrieved_sources"][0] == r["gold_sources"][0] for r in lines)
    assert len(lines[0]["retrieved_sources"]) == 5  # retrieval-only: up to the top 20, all 5 here

    assert run_piaf(tmp_path, piaf, "--retrieval-only", "--resume", "--out", str(out)) == 0
    captured = capsys.readouterr()
    assert (
        "5 unchanged" in captured.err and "2/3" in captured.err
    )  # nothing re-embedded, 2 cases kept
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["p1", "p2", "p3"]
    assert ["hit@1", "100.0%"] in [line.split() for line in captured.out.splitlines()]

    assert run_piaf(tmp_path, piaf, "--limit", "1", "--out", str(tmp_path / "full.jsonl")) == 0
    answered = json.loads((tmp_path / "full.jsonl").read_text())
    assert answered["answer"] and answered["citations"][0]["passage"].startswith("La Loire")


def test_eval_piaf_missing_data_is_one_line_error(tmp_path, capsys):
    assert (
        main(["--embedder", "fake", "eval", "piaf", "--corpus", str(tmp_path / "none.jsonl")]) == 1
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"Error: no PIAF corpus at {tmp_path / 'none.jsonl'}") and "\n" not in err
