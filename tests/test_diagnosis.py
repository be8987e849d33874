import pytest

from rag.evaluation.diagnosis import (
    abstention_score,
    answer_score,
    case_scores,
    faithfulness_score,
    retrieval_score,
    short_id,
    source_score,
)

PASSAGE = (
    "Le Washington Post a rapporté jeudi la conversation entre Donald Trump et Vladimir Poutine."
)


def line(**fields):
    base = {
        "id": "q1",
        "question": "Quel journal a rapporté la conversation ?",
        "answer": "Le Washington Post [1].",
        "abstained": False,
        "citations": [{"source": "001_2b9e3b30e134a6cf.txt", "quote": "q", "passage": PASSAGE}],
        "cited_sources": ["001_2b9e3b30e134a6cf.txt"],
        "retrieved_sources": [
            "002_08de760eebd6501b.txt",
            "003_17ab84beb0fc2423.txt",
            "001_2b9e3b30e134a6cf.txt",
        ],
        "expected": ["Washington Post"],
        "gold_sources": ["001_2b9e3b30e134a6cf.txt"],
        "type": "fact",
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("doc_id", "short"),
    [
        ("000_b3fd78398ee6b0e0.txt", "000.txt"),
        ("piaf-af7e9d2e1b10a0db", "piaf-af7e9d2e1b10a0db"),
        ("a.txt", "a.txt"),
    ],
)
def test_short_id(doc_id, short):
    assert short_id(doc_id) == short


@pytest.mark.parametrize(
    ("fields", "value", "reason"),
    [
        ({}, 0.5, "gold 001.txt at rank 3"),  # 1 / log2(4)
        (
            {"retrieved_sources": ["002_08de760eebd6501b.txt"]},
            0.0,
            "no gold document retrieved (gold 001.txt; got 002.txt)",
        ),
        ({"gold_sources": [], "expected": [], "type": "unanswerable"}, None, "no gold sources"),
    ],
)
def test_retrieval_score(fields, value, reason):
    score = retrieval_score(line(**fields))
    assert score.value == (None if value is None else pytest.approx(value))
    assert score.reason == reason


@pytest.mark.parametrize(
    ("fields", "value", "reason"),
    [
        ({}, 1.0, "contains 'Washington Post'"),
        ({"answer": "Le New York Times [1]."}, 0.0, "lacks 'Washington Post'"),
        ({"answer": "Les articles ne le disent pas.", "abstained": True}, 0.0, "abstained"),
        ({"answer": None}, None, "no reference answer"),
    ],
)
def test_answer_score(fields, value, reason):
    score = answer_score(line(**fields))
    assert (score.value, score.reason) == (value, reason)


@pytest.mark.parametrize(
    ("fields", "value", "reason"),
    [
        ({}, 1.0, "cites gold 001.txt"),
        ({"cited_sources": ["002_08de760eebd6501b.txt"]}, 0.0, "cites 002.txt, gold is 001.txt"),
        ({"cited_sources": [], "abstained": True}, 0.0, "abstained"),
    ],
)
def test_source_score(fields, value, reason):
    score = source_score(line(**fields))
    assert (score.value, score.reason) == (value, reason)


@pytest.mark.parametrize(
    ("fields", "value", "reason"),
    [
        ({}, 1.0, "answered"),
        ({"abstained": True}, 0.0, "abstained on an answerable question"),
        (
            {"type": "unanswerable", "expected": [], "gold_sources": []},
            0.0,
            "answered an unanswerable question",
        ),
        ({"type": "unanswerable", "abstained": True}, 1.0, "rightly abstained"),
        ({"answer": None, "abstained": None}, None, "retrieval only"),
    ],
)
def test_abstention_score(fields, value, reason):
    score = abstention_score(line(**fields))
    assert (score.value, score.reason) == (value, reason)


def test_faithfulness_score_names_the_unsupported_sentence():
    score = faithfulness_score(
        line(answer="Le Washington Post [1]. La conversation a duré 3 heures [1].")
    )
    assert score.value == 0.5
    assert score.reason.startswith(
        "1/2 sentences supported; unsupported: «La conversation a duré 3 heures [1].»"
    )
    assert "number 3" in score.reason
    assert faithfulness_score(line(citations=[{"source": "x", "quote": "q"}])).reason == (
        "no cited passage text in the result"
    )
    assert faithfulness_score(line(abstained=True)).value is None


def test_case_scores_has_every_score():
    scores = case_scores(line())
    assert set(scores) == {
        "retrieval",
        "answer",
        "source",
        "abstention",
        "faithfulness",
        "semantic",
    }
    assert scores["semantic"].reason == "not computed"
    assert (
        case_scores(line(semantic_similarity=0.8))["semantic"].reason
        == "cosine 0.80 to the reference"
    )
