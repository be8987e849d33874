import json
from pathlib import Path

import pytest

from rag.cli.main import main
from rag.core.errors import InputError
from rag.core.types import Document
from rag.evaluation.runner import load_testset
from rag.evaluation.testset import (
    DRAFT_STATUS,
    check,
    documents_from_chunks,
    draft_cases,
    find_span,
)
from rag.pipeline import RAG

ROOT = Path(__file__).resolve().parent.parent

GOOD = {"id": "q1", "question": "Qui ?", "answers": ["Paris"], "sources": ["a.txt"]}


def write(path, lines):
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    return path


def test_check_reports_every_problem_with_its_line(tmp_path):
    path = write(
        tmp_path / "t.jsonl",
        [
            GOOD,
            "{broken",
            {"id": "q1", "question": "qui?", "answers": "Paris", "sources": ["zzz.txt"]},
            {"id": "q3", "question": "Où ?", "answers": ["Lyon"], "sources": []},
            "",
            {
                "id": "q4",
                "question": "Quand ?",
                "answers": ["hier"],
                "sources": ["a.txt"],
                "type": "unanswerable",
            },
            {"id": "q5", "question": "Combien ?", "answers": [], "sources": []},
            {
                "id": "q6",
                "question": "Pourquoi ?",
                "answers": ["x"],
                "sources": ["a.txt"],
                "draft": True,
            },
            {"question": "Sans id ?", "answers": [], "sources": [], "type": "unanswerable"},
        ],
    )
    problems = check(str(path), {"a.txt"}, "the index")
    assert problems == [
        "2: invalid JSON (Expecting property name enclosed in double quotes); fix or remove this line",
        "3: 'answers' must be a list of strings",
        "3: source(s) 'zzz.txt' not in the index",
        "3: duplicate id 'q1' (first on line 1)",
        "3: same question as line 1",
        "4: answerable case 'q3' has no sources",
        "6: case 'q4' is unanswerable but lists answers",
        '7: case \'q5\' has neither answers nor sources — add them, or mark it "type": "unanswerable"',
        "8: case 'q6' is a draft; review it and remove the draft flag",
        "9: missing key(s) id",
    ]


def test_check_of_the_project_test_set_is_clean():
    seeds = {p.name for p in (ROOT / "seeds").iterdir()}
    assert check(str(ROOT / "evals" / "seeds.jsonl"), seeds) == []


def test_check_without_cases_or_file(tmp_path):
    assert check(str(write(tmp_path / "t.jsonl", [""]))) == ["no cases"]
    with pytest.raises(InputError, match="cannot read test set"):
        check(str(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Le 10 novembre 2024, le Washington Post a rapporté l'appel.",
            ("date", "10 novembre 2024"),
        ),
        ("Cet entretien a eu lieu jeudi dernier, dit le journal.", ("date", "jeudi")),
        ("Le conflit a débuté en 2014 selon l'article.", ("date", "2014")),
        ("The call took place on November 10, 2024 in Florida.", ("date", "November 10, 2024")),
        (
            "Il prévoit de dépenser six milliards de dollars restants.",
            ("number", "six milliards de dollars"),
        ),
        ("Une conversation de deux heures et demie a eu lieu.", ("number", "deux heures")),
        ("Le milliardaire Elon Musk a participé à l'échange.", ("name", "Elon Musk")),
        ("il a parlé au président sans donner de détails.", None),
    ],
)
def test_find_span(sentence, expected):
    assert find_span(sentence) == expected


def test_draft_cases_are_flagged_and_answerable_from_their_document():
    doc = Document(
        id="a.txt",
        title="A",
        text="Le milliardaire Elon Musk a participé à l'échange téléphonique. "
        "Le 10 novembre 2024, le Washington Post a rapporté l'appel entre les deux dirigeants. "
        "Ceci est une phrase sans rien de particulier à demander.",
    )
    drafts = draft_cases([doc], per_doc=5)
    assert [d["answers"] for d in drafts] == [["Elon Musk"], ["10 novembre 2024"]]
    for d in drafts:
        assert d["draft"] is True and d["status"] == DRAFT_STATUS == "draft — review before use"
        assert d["sources"] == ["a.txt"] and d["lang"] == "fr"
        assert "____" in d["question"] and d["answers"][0] not in d["question"]
        assert d["answers"][0] in d["context"] and d["context"] in doc.text
    assert drafts[1]["question"].startswith("Quand ?") and drafts[1]["type"] == "date"
    assert draft_cases([doc], per_doc=1)[0]["id"] == "draft-a-txt-1"


def test_drafts_are_refused_as_gold_until_reviewed(tmp_path):
    doc = Document(
        id="a.txt",
        title="A",
        text="Le 10 novembre 2024, le Washington Post a rapporté l'appel des deux hommes.",
    )
    path = write(tmp_path / "drafts.jsonl", draft_cases([doc]))
    with pytest.raises(
        InputError, match=r"drafts\.jsonl:1: case 'draft-a-txt-1' is a draft; review it and remove"
    ):
        load_testset(path)


def test_documents_from_chunks_keep_overlapping_sentences_once():
    from rag.index.records import StoredChunk

    chunks = [
        StoredChunk("a:1", "a", "Deux. Trois.", "A", None, "h"),
        StoredChunk("a:0", "a", "Un. Deux.", "A", None, "h"),
    ]
    (doc,) = documents_from_chunks(chunks)
    assert (doc.id, doc.text) == ("a", "Un. Deux. Trois.")


def test_cli_testset_check_and_draft(tmp_path, seeds, settings, capsys):
    RAG(settings).ingest(progress=False)
    index = ["--embedder", "fake", "--index", str(settings.index.index_dir)]
    assert main([*index, "testset", "check", str(ROOT / "evals" / "seeds.jsonl")]) == 0
    assert "every gold source is in the index" in capsys.readouterr().out

    bad = write(tmp_path / "bad.jsonl", [GOOD, dict(GOOD, id="q2", question="Où ?")])
    assert main([*index, "testset", "check", str(bad)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{bad}:1: source(s) 'a.txt' not in the index at {settings.index.index_dir}/",
        f"{bad}:2: source(s) 'a.txt' not in the index at {settings.index.index_dir}/",
    ]
    assert "2 problem(s)" in out.err
    assert main(["--embedder", "fake", "testset", "check", str(bad), "--no-index"]) == 0

    assert (
        main(
            ["--embedder", "fake", "testset", "check", str(bad), "--index", str(tmp_path / "none")]
        )
        == 1
    )
    assert (
        f"no index at {tmp_path / 'none'}/ — build it with 'rag --index" in capsys.readouterr().out
    )

    out_file = tmp_path / "drafts.jsonl"
    assert (
        main(
            [
                *index,
                "testset",
                "draft",
                str(settings.index.index_dir),
                "--out",
                str(out_file),
                "--per-doc",
                "2",
            ]
        )
        == 0
    )
    drafts = [json.loads(x) for x in out_file.read_text().splitlines()]
    assert len(drafts) == 10 and all(d["draft"] for d in drafts)
    assert main(["testset", "draft", str(seeds), "--out", str(out_file), "--per-doc", "1"]) == 0
    assert len(out_file.read_text().splitlines()) == 5
    assert main(["eval", str(out_file), "--out", str(tmp_path / "r.jsonl")]) == 1
    assert "is a draft; review it and remove the draft flag" in capsys.readouterr().err
