"""The faithfulness checker against hand-labelled sentences (evals/faithfulness_labels.jsonl)."""

import json

import pytest

from rag.cli.main import main
from rag.core.errors import InputError
from rag.evaluation.agreement import LABELS, agreement, format_agreement, load_labels

# Measured on 2026-12-07 with SUPPORTED_SHARE = 0.6: 176 of 232 sentences (75.9 %: the seeds' 117
# at 84.6 %, the 115 Wikinews labels at 67.0 %). A change to the checker or to
# rag.answer.citations that loses more than a few sentences fails here.
MEASURED_AGREEMENT = 176 / 232
MARGIN = 0.03


def test_labels_are_many_real_and_of_both_kinds():
    labels = load_labels()
    assert len(labels) >= 40
    assert len({item["id"] for item in labels}) == len(labels)
    unsupported = sum(not item["supported"] for item in labels)
    assert 20 <= unsupported <= len(labels) - 20
    assert all(
        item["note"] and item["passages"] and all(p.strip() for p in item["passages"])
        for item in labels
    )


def test_checker_agreement_stays_at_the_measured_level():
    a = agreement(load_labels())
    assert a.agreement >= MEASURED_AGREEMENT - MARGIN, format_agreement(a)
    assert a.precision is not None and a.precision >= 0.8  # when it says "unsupported", it is right
    assert sum(a.confusion.values()) == a.n == len(load_labels())


def test_agreement_counts_and_confusion():
    passage = "Le Washington Post a rapporté jeudi la conversation."
    labels = [
        {
            "id": "a",
            "sentence": "Le Washington Post [1].",
            "passages": [passage],
            "question": "Qui ?",
            "supported": True,
        },
        {
            "id": "b",
            "sentence": "Elle a duré 3 heures [1].",
            "passages": [passage],
            "question": "Combien ?",
            "supported": False,
        },
        {
            "id": "c",
            "sentence": "Le Washington Post [1].",
            "passages": [passage],
            "question": "Qui ?",
            "supported": False,
        },
        {
            "id": "d",
            "sentence": "Le New York Times [1].",
            "passages": [passage],
            "question": "Qui ?",
            "supported": True,
        },
    ]
    a = agreement(labels)
    assert (a.n, a.agreement) == (4, 0.5)
    assert a.confusion == {
        ("supported", "supported"): 1,
        ("supported", "unsupported"): 1,
        ("unsupported", "supported"): 1,
        ("unsupported", "unsupported"): 1,
    }
    assert (a.precision, a.recall) == (0.5, 0.5)
    assert [d[0] for d in a.disagreements] == ["c", "d"]
    text = format_agreement(a)
    assert (
        "agreement: 50.0% (2/4)" in text and "'unsupported' precision: 50.0%  recall: 50.0%" in text
    )
    assert ["supported", "1", "1"] in [line.split() for line in text.splitlines()]


def test_load_labels_errors(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "a",
                "sentence": "x",
                "passages": "not a list",
                "question": "q",
                "supported": True,
            }
        )
    )
    with pytest.raises(
        InputError, match=r"labels\.jsonl:1: missing or mistyped field\(s\) passages"
    ):
        load_labels(path)
    path.write_text("{oops")
    with pytest.raises(InputError, match="invalid JSON"):
        load_labels(path)


def test_cli_faithfulness_check(capsys):
    assert main(["eval", "faithfulness-check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"labelled sentences: {len(load_labels(LABELS))}\nagreement: ")
    assert "person \\ checker" in out
