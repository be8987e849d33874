"""The retrieval quality gate: pure checks, the command with fakes, and the real gate (embedder)."""

import json

import pytest

from rag.cli.main import main
from rag.core.errors import InputError
from rag.evaluation.gate import THRESHOLDS, failures, format_gate, load_thresholds, record
from rag.evaluation.piaf import corpus_path, questions_path
from rag.evaluation.settings import EvaluationSettings
from tests.test_piaf import PARAGRAPHS
from tests.test_piaf import QUESTIONS as PIAF_QUESTIONS

LIMITS = {"seeds": {"hit@1": 0.8, "mrr": 0.85}, "piaf": {"hit@5": 0.9}}


def test_failures_name_the_metric_that_dropped():
    measured = {"seeds": {"hit@1": 0.79, "mrr": 0.9}, "piaf": {"hit@5": 0.95}}
    assert failures(measured, LIMITS) == ["seeds hit@1 dropped to 79.0% (threshold 80.0%)"]
    assert failures({"seeds": {"hit@1": 0.8, "mrr": 0.849}, "piaf": {}}, LIMITS) == [
        "seeds mrr dropped to 0.849 (threshold 0.850)",
        "piaf hit@5 was not measured (threshold 90.0%)",
    ]
    assert failures({"seeds": {"hit@1": 0.8, "mrr": 0.85}, "piaf": {"hit@5": 0.9}}, LIMITS) == []
    table = format_gate(measured, LIMITS)
    assert (
        "seeds   hit@1      79.0%     80.0%  FAIL" in table
        and "piaf    hit@5      95.0%     90.0%  ok" in table
    )


def test_recorded_thresholds_are_below_the_measured_values():
    data = load_thresholds(THRESHOLDS)
    assert data["setup"]["embedder"] == "e5-small" and data["setup"]["piaf_questions"] == 100
    for suite, limits in data["thresholds"].items():
        assert set(limits) == {"hit@1", "hit@5", "mrr"}
        for metric, minimum in limits.items():
            assert 0.5 < minimum < data["measured"][suite][metric], (suite, metric)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "cannot read thresholds"),
        ('{"setup": {}, "thresholds": {"seeds": {"hit@1": 0.5}}}', "needs 'setup'"),
        (
            (
                '{"setup": {"embedder": "fake", "top_k": 5, "piaf_questions": 1, "piaf_paragraphs": 2},'
                ' "thresholds": {"seeds": {"recall": 0.5}}}'
            ),
            "unknown metric",
        ),
    ],
)
def test_load_thresholds_errors(tmp_path, content, message):
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_thresholds(path)


def test_record_writes_thresholds_a_margin_below(tmp_path):
    path = tmp_path / "t.json"
    recorded = {"setup": {"embedder": "fake"}, "thresholds": {"seeds": {"hit@1": 0, "mrr": 0}}}
    record(path, recorded, {"seeds": {"hit@1": 0.828, "mrr": 0.8917, "hit@5": 1.0}})
    data = json.loads(path.read_text())
    assert data["thresholds"] == {"seeds": {"hit@1": 0.805, "mrr": 0.87}}
    assert data["measured"] == {"seeds": {"hit@1": 0.828, "mrr": 0.8917}} and data["setup"] == {
        "embedder": "fake"
    }


@pytest.fixture
def fake_gate(tmp_path):
    """A PIAF-format corpus and a thresholds file recorded for the hashing embedder."""
    corpus, questions = tmp_path / "corpus.jsonl", tmp_path / "questions.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": i, "title": t, "text": x}) + "\n" for i, t, x in PARAGRAPHS)
    )
    questions.write_text(
        "".join(
            json.dumps({"id": i, "question": q, "answers": [a], "sources": [s]}) + "\n"
            for i, q, a, s in PIAF_QUESTIONS
        )
    )

    def write_thresholds(seeds_hit1: float) -> str:
        path = tmp_path / "thresholds.json"
        path.write_text(
            json.dumps(
                {
                    "setup": {
                        "embedder": "fake",
                        "top_k": 20,
                        "piaf_questions": 3,
                        "piaf_paragraphs": 4,
                    },
                    "thresholds": {
                        "seeds": {"hit@1": seeds_hit1, "hit@5": 0.5},
                        "piaf": {"hit@1": 0.6},
                    },
                }
            )
        )
        return str(path)

    def run(thresholds: str, *extra: str) -> int:
        return main(
            [
                "--embedder",
                "fake",
                "eval",
                "gate",
                "--thresholds",
                thresholds,
                "--workdir",
                str(tmp_path / "work"),
                "--corpus",
                str(corpus),
                "--questions",
                str(questions),
                *extra,
            ]
        )

    return write_thresholds, run


def test_gate_command_passes_and_fails_with_a_clear_message(fake_gate, capsys, tmp_path):
    write_thresholds, run = fake_gate
    assert run(write_thresholds(0.5)) == 0
    out = capsys.readouterr().out
    assert "quality gate passed" in out and "piaf    hit@1" in out
    assert len((tmp_path / "work" / "piaf-subset.jsonl").read_text().splitlines()) == 4

    assert run(write_thresholds(0.99)) == 1
    err = capsys.readouterr().err
    assert "FAIL: seeds hit@1 dropped to" in err and "(threshold 99.0%)" in err
    assert err.strip().splitlines()[-1].startswith("quality gate failed: seeds hit@1 dropped to")


def test_gate_refuses_another_embedder_than_the_recorded_one(capsys, tmp_path):
    args = [
        "--embedder",
        "fake",
        "eval",
        "gate",
        "--workdir",
        str(tmp_path / "w"),
        "--thresholds",
        str(THRESHOLDS),
    ]
    assert main(args) == 1
    assert "recorded with embedder 'e5-small', not 'fake'" in capsys.readouterr().err


@pytest.mark.embedder
@pytest.mark.skipif(
    not (corpus_path().exists() and questions_path().exists()),
    reason=f"needs the PIAF data in {EvaluationSettings().piaf_dir}",
)
def test_real_gate_passes_the_recorded_thresholds(tmp_path, capsys):
    """The CI gate: e5-small, seeds test set and 100 PIAF questions over a 300-paragraph subset,
    indexes built from scratch in tmp_path (~1-3 min on 2 CPU cores)."""
    code = main(["eval", "gate", "--workdir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "quality gate passed" in captured.out
