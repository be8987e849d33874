import math

import pytest

from rag.metrics import (
    contains_answer,
    exact_match,
    format_summary,
    hit_at_k,
    is_answerable,
    normalize,
    percentile,
    reciprocal_rank,
    summarize,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L'Ukraine", "ukraine"),
        ("l’Ukraine", "ukraine"),
        ("d'Artagnan", "artagnan"),
        ("Élysée", "elysee"),
        ("« Le Monde »", "monde"),
        ("“Quoted”", "quoted"),
        ("Les Échos", "echos"),
        ("du pain, des jeux", "pain jeux"),
        ("Charles de Gaulle", "charles gaulle"),
        ("Une femme et un homme", "femme et homme"),
        ("unité lesquels", "unite lesquels"),  # articles go as whole tokens only
        ("The White House", "white house"),
        ("a cat, an apple.", "cat apple"),
        ("Jean-Luc Mélenchon", "jean luc melenchon"),
        ("cœur", "coeur"),
        ("3,5 %", "3 5"),
        ("  Paris\n\tFrance  ", "paris france"),
        ("La Russie [1][2].", "russie"),  # citation markers are not part of the answer
        ("en 2022 [1, 3] et [12]", "en 2022 et"),
        ("", ""),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("la Seine", ["Seine"], 1.0),
        ("l'Ukraine", ["Ukraine"], 1.0),
        ("Élysée", ["elysee"], 1.0),
        ("The Washington Post.", ["Washington Post"], 1.0),
        ("Emmanuel Macron", ["Macron"], 0.0),
        ("Emmanuel Macron", ["Macron", "Emmanuel Macron"], 1.0),
        ("Paris", ["Lyon"], 0.0),
        ("anything", [], 0.0),
    ],
)
def test_exact_match(prediction, answers, expected):
    assert exact_match(prediction, answers) == expected


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("Emmanuel Macron", ["Macron"], 2 / 3),
        ("le président Emmanuel Macron", ["Emmanuel Macron"], 0.8),
        ("Macron Macron", ["Macron"], 2 / 3),  # Counter overlap: one shared token, not two
        ("Jean-Luc Mélenchon", ["Mélenchon", "Jean Luc Melenchon"], 1.0),
        ("Paris", ["Lyon"], 0.0),
        ("la", ["le"], 1.0),  # both normalise to nothing
        ("la", ["Paris"], 0.0),
        ("anything", [], 0.0),
    ],
)
def test_token_f1(prediction, answers, expected):
    assert token_f1(prediction, answers) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("Il a visité l'Ukraine hier.", ["Ukraine"], True),
        ("Il a visité l'Ukraine hier.", ["Ukrain"], False),  # whole tokens only
        ("Les Échos ont publié l'enquête", ["les echos"], True),
        ("The Washington Post reported it", ["Washington Post"], True),
        ("Washington", ["Washington Post"], False),
        ("Paris", ["Lyon", "Paris"], True),
        ("Paris", [], False),
        ("un chat", ["un"], False),  # an answer that normalises to nothing matches nothing
    ],
)
def test_contains_answer(prediction, answers, expected):
    assert contains_answer(prediction, answers) is expected


@pytest.mark.parametrize(
    ("ranked", "gold", "k", "expected"),
    [
        (["a", "a", "b"], ["b"], 1, 0.0),
        (["a", "a", "b"], ["b"], 2, 1.0),  # duplicates removed: b is the 2nd document
        (["a", "b", "c"], ["c", "b"], 2, 1.0),
        (["a", "b", "c"], ["c"], 2, 0.0),
        (["a", "b"], [], 5, 0.0),
        ([], ["a"], 1, 0.0),
    ],
)
def test_hit_at_k(ranked, gold, k, expected):
    assert hit_at_k(ranked, gold, k) == expected


@pytest.mark.parametrize(
    ("ranked", "gold", "expected"),
    [
        (["a", "a", "b"], ["b"], 0.5),
        (["a", "a", "a", "b", "c"], ["c"], 1 / 3),
        (["b", "b"], ["b"], 1.0),
        (["a", "c", "b"], ["b", "c"], 0.5),
        (["a"], ["b"], 0.0),
        ([], ["b"], 0.0),
    ],
)
def test_reciprocal_rank(ranked, gold, expected):
    assert reciprocal_rank(ranked, gold) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1.0),
        ([1, 2, 3, 4], 100, 4.0),
        ([1, 2, 3, 4, 5], 95, 4.8),
        ([0, 10], 95, 9.5),
        ([3, 1, 2], 50, 2.0),
        ([10], 95, 10.0),
    ],
)
def test_percentile(values, p, expected):
    assert percentile(values, p) == pytest.approx(expected)


def test_percentile_empty_is_nan_and_bad_p_raises():
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def result(id_, expected, gold, retrieved, answer=None, abstained=None, cited=None, t=0.0, **extra):
    answered = answer is not None
    return {
        "id": id_,
        "question": f"question {id_}",
        "answer": answer,
        "abstained": abstained,
        "citations": [{"source": s, "quote": "q"} for s in cited or []] if answered else None,
        "cited_sources": list(cited or []) if answered else None,
        "retrieved_sources": retrieved,
        "retrieval_s": t / 100,
        "ttft_s": t / 10 if answered else None,
        "total_s": t if answered else None,
        "expected": expected,
        "gold_sources": gold,
        "type": extra.get("type"),
        "lang": "fr",
    }


RESULTS = [
    # right document first, right answer, right citation
    result("q1", ["Ukraine"], ["d1"], ["d1", "d2"], "L'Ukraine", False, ["d1"], t=1.0),
    # gold document second after a duplicate, partial answer, wrong citation
    result("q2", ["Emmanuel Macron"], ["d2"], ["d3", "d3", "d2"], "Macron", False, ["d3"], t=2.0),
    # missed retrieval and abstained: the answer text contains "Paris" but counts as wrong
    result("q3", ["Paris"], ["d4"], ["d5"], "Paris ? Je ne sais pas.", True, [], t=3.0),
    # unanswerable, rightly abstained
    result("q4", [], [], ["d1"], "Je ne sais pas.", True, [], t=4.0),
]


def test_summarize_answers():
    s = summarize(RESULTS)
    assert (s["cases"], s["answerable"], s["unanswerable"], s["with_sources"]) == (4, 3, 1, 3)
    assert (s["answered"], s["with_answers"], s["abstained"]) == (4, 3, 2)
    expected = {
        "hit@1": 1 / 3,  # q1 only
        "hit@5": 2 / 3,  # q1, q2
        "mrr": (1 + 1 / 2 + 0) / 3,
        "exact_match": 1 / 3,  # q1
        "f1": (1 + 2 / 3 + 0) / 3,  # q2: "macron" vs "emmanuel macron" -> P=1, R=1/2
        "contains_answer": 1 / 3,  # q1; q3 abstained
        "source_cited": 1 / 3,  # q1
        "false_abstention": 1 / 3,  # q3
        "abstention_accuracy": 1.0,  # q4
        "ttft_p50_s": 0.25,
        "ttft_p95_s": 0.385,  # 0.3 + 0.85 * (0.4 - 0.3)
        "total_p50_s": 2.5,
        "total_p95_s": 3.85,
        "retrieval_p50_s": 0.025,
        "retrieval_p95_s": 0.0385,
    }
    for key, value in expected.items():
        assert s[key] == pytest.approx(value), key


def test_summarize_retrieval_only_has_only_retrieval_metrics():
    results = [
        result("q1", ["Ukraine"], ["d1"], ["d1", "d2"], t=1.0),
        result("q2", ["Emmanuel Macron"], ["d2"], ["d3", "d3", "d2"], t=2.0),
        result("q3", [], [], ["d1"], t=3.0),
    ]
    s = summarize(results)
    assert set(s) == {
        "cases", "answerable", "unanswerable", "with_sources",
        "hit@1", "hit@5", "mrr", "retrieval_p50_s", "retrieval_p95_s",
    }  # fmt: skip
    assert (s["cases"], s["answerable"], s["unanswerable"], s["with_sources"]) == (3, 2, 1, 2)
    assert s["hit@1"] == 0.5
    assert s["hit@5"] == 1.0
    assert s["mrr"] == 0.75
    assert s["retrieval_p50_s"] == pytest.approx(0.02)


def test_summarize_empty_gives_none_not_errors():
    s = summarize([])
    assert s["cases"] == 0
    assert s["hit@1"] is None and s["retrieval_p50_s"] is None
    assert "exact_match" not in s


@pytest.mark.parametrize(
    ("expected", "gold", "type_", "answerable"),
    [
        (["x"], ["d1"], None, True),
        ([], ["d1"], "summary", True),  # a source but no reference answer string
        (["x"], [], None, True),
        ([], [], None, False),
        ([], ["d1"], "unanswerable", False),  # a related source, but the answer is not in it
    ],
)
def test_is_answerable(expected, gold, type_, answerable):
    assert is_answerable({"expected": expected, "gold_sources": gold, "type": type_}) is answerable


def test_format_summary():
    text = format_summary(summarize(RESULTS))
    lines = text.splitlines()
    assert lines[0].split() == ["cases", "4", "(3", "answerable,", "1", "unanswerable)"]
    assert any(line.split() == ["hit@1", "33.3%"] for line in lines)
    assert any(line.split() == ["MRR", "0.500"] for line in lines)
    assert any(line.split() == ["exact", "match", "33.3%"] for line in lines)
    assert any(line.split() == ["total", "2.500s", "/", "3.850s"] for line in lines)

    retrieval_only = format_summary(summarize([result("q1", ["x"], ["d1"], ["d1"])]))
    assert "hit@5" in retrieval_only and "exact match" not in retrieval_only
    assert "n/a" in format_summary(summarize([]))
