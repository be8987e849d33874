import json

import pytest

from rag.cli.main import main
from rag.core.errors import InputError
from rag.evaluation.compare import check_same_testset, compare, flips, metric_table
from rag.evaluation.metrics import summarize


def result(
    id_,
    answer,
    abstained=False,
    cited=("d1",),
    retrieved=("d1",),
    expected=("Paris",),
    gold=("d1",),
):
    return {
        "id": id_,
        "question": f"Question {id_} ?",
        "answer": answer,
        "abstained": abstained,
        "citations": [{"source": s, "quote": "q"} for s in cited],
        "cited_sources": list(cited),
        "retrieved_sources": list(retrieved),
        "retrieval_s": 0.01,
        "ttft_s": 1.0,
        "total_s": 2.0,
        "draft": answer,
        "expected": list(expected),
        "gold_sources": list(gold),
        "type": "fact",
        "lang": "fr",
    }


ABSTAIN = "Les articles ne le disent pas."
RUN_A = [
    result("q1", "Paris [1]."),
    result("q2", "Lyon [1].", cited=("d2",)),
    result("q3", ABSTAIN, abstained=True, cited=()),
    result("u1", "Moscou [1].", expected=(), gold=()),
]
RUN_B = [
    result("q1", ABSTAIN, abstained=True, cited=()),  # worse: was right
    result("q2", "Paris [1]."),  # better: right answer, right source
    result("q3", ABSTAIN, abstained=True, cited=()),  # unchanged
    result("u1", ABSTAIN, abstained=True, cited=(), expected=(), gold=()),  # better: abstains
]


def test_metric_table_has_a_b_and_delta():
    rows = {label: rest for label, *rest in metric_table(summarize(RUN_A), summarize(RUN_B))}
    assert rows["contains answer"] == ["33.3%", "33.3%", "+0.0 pt"]
    assert rows["abstained on unanswerable"] == ["0.0%", "100.0%", "+100.0 pt"]
    assert rows["right source cited"] == ["33.3%", "33.3%", "+0.0 pt"]
    assert rows["first token p50"] == ["1.00s", "1.00s", "+0.00s"]


def test_flips_per_metric():
    changed = flips(RUN_A, RUN_B, ["q1", "q2", "q3", "u1"])
    assert [(i, x.value, y.value) for i, x, y in changed["contains answer"]] == [
        ("q1", 1.0, 0.0),
        ("q2", 0.0, 1.0),
    ]
    assert [i for i, _, _ in changed["right source"]] == ["q1", "q2"]
    assert [(i, y.reason) for i, _, y in changed["abstention"]] == [
        ("q1", "abstained on an answerable question"),
        ("u1", "rightly abstained"),
    ]


def test_compare_text_lists_flipped_cases_with_both_answers():
    text = compare(RUN_A, RUN_B, ("a.jsonl", "b.jsonl"))
    assert "4 shared cases" in text
    assert "contains answer: 2 flipped (1 better in B, 1 worse)" in text
    assert "  - q1: A contains 'Paris' → B abstained" in text
    assert "      A: Paris [1]." in text and f"      B: {ABSTAIN}" in text
    assert "abstention: 2 flipped (1 better in B, 1 worse)" in text


def test_runs_of_one_test_set_with_different_limits_compare_on_shared_cases():
    text = compare(RUN_A, RUN_B[:2])
    assert "2 shared cases (2 only in A, 0 only in B: left out)" in text


@pytest.mark.parametrize(
    ("b", "message"),
    [
        ([result("x1", "Paris")], "share no case id"),
        (
            [dict(result("q1", "Paris"), question="Another question?")],
            "case 'q1' asks different questions",
        ),
    ],
)
def test_results_of_different_test_sets_are_refused(b, message):
    with pytest.raises(InputError, match=message):
        check_same_testset(RUN_A, b)


def write(path, results):
    path.write_text("".join(json.dumps(r) + "\n" for r in results), encoding="utf-8")
    return str(path)


def test_cli_compare(tmp_path, capsys):
    a, b = write(tmp_path / "a.jsonl", RUN_A), write(tmp_path / "b.jsonl", RUN_B)
    assert main(["eval", "compare", a, b]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"A = {a}\nB = {b}")
    assert "right source: 2 flipped" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Error: cannot read results"),
        ("{not json\n", "invalid JSON"),
        (json.dumps(result("zz", "x")) + "\n", "share no case id"),
    ],
)
def test_cli_compare_errors_are_one_line(tmp_path, capsys, content, message):
    a = write(tmp_path / "a.jsonl", RUN_A)
    b = tmp_path / "b.jsonl"
    if content is not None:
        b.write_text(content, encoding="utf-8")
    assert main(["eval", "compare", a, str(b)]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
