import math

import pytest

from rag.evaluation.metrics import (
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
        ("La durée est de 5 ans [1].", ["cinq ans"], True),  # number words read as digits
        ("Il retenait trois grandes régions.", ["3"], True),
        ("Il a tiré seize missiles.", ["16 missiles"], True),
        ("Il a tiré seize missiles.", ["6 missiles"], False),
        ("Il a 25 ans.", ["cinq ans"], False),  # not a part of another number
        ("They fired sixteen missiles.", ["16"], True),
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
        "cases",
        "answerable",
        "unanswerable",
        "with_sources",
        "hit@1",
        "hit@5",
        "mrr",
        "ndcg@10",
        "retrieval_p50_s",
        "retrieval_p95_s",
    }
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


# -- ranking, citations, abstention, speed, faithfulness ------------------------------------

from rag.evaluation.metrics import (
    citation_precision,
    citation_recall,
    faithfulness,
    first_gold_rank,
    ndcg_at_k,
    precision_recall,
    semantic_similarity,
    sentence_verdict,
    words_per_second,
)
from rag.index.embed import HashEmbedder


@pytest.mark.parametrize(
    ("ranked", "gold", "expected"),
    [
        (["a", "b"], ["a"], 1.0),
        (["a", "b"], ["b"], 1 / math.log2(3)),
        (["a", "a", "b"], ["b"], 1 / math.log2(3)),  # duplicates removed before ranking
        (["b", "a"], ["a", "b"], 1.0),  # both gold documents first: ideal
        (["a", "c", "b"], ["a", "b"], (1 + 1 / 2) / (1 + 1 / math.log2(3))),
        (["x"] * 3 + ["y"], ["z"], 0.0),
        ([], ["a"], 0.0),
        (["a"], [], 0.0),
        ([str(i) for i in range(12)], ["11"], 0.0),  # rank 12 is outside the top 10
    ],
)
def test_ndcg_at_k(ranked, gold, expected):
    assert ndcg_at_k(ranked, gold) == pytest.approx(expected)


def test_first_gold_rank():
    assert first_gold_rank(["a", "a", "b"], ["b"]) == 2
    assert first_gold_rank(["a"], ["b"]) is None


@pytest.mark.parametrize(
    ("cited", "gold", "precision", "recall"),
    [
        (["a", "b"], ["a"], 0.5, 1.0),
        (["a"], ["a", "b"], 1.0, 0.5),
        (["a", "a"], ["a"], 1.0, 1.0),
        (["c"], ["a"], 0.0, 0.0),
        ([], ["a"], None, 0.0),
        (["a"], [], 0.0, None),
    ],
)
def test_citation_precision_recall(cited, gold, precision, recall):
    assert citation_precision(cited, gold) == precision
    assert citation_recall(cited, gold) == recall


@pytest.mark.parametrize(
    ("predicted", "actual", "expected"),
    [
        ([1, 1, 0], [1, 0, 1], (0.5, 0.5)),
        ([1, 1], [1, 1], (1.0, 1.0)),
        ([0, 0], [1, 0], (None, 0.0)),
        ([1, 0], [0, 0], (0.0, None)),
    ],
)
def test_precision_recall(predicted, actual, expected):
    assert precision_recall(predicted, actual) == expected


@pytest.mark.parametrize(
    ("text", "ttft", "total", "expected"),
    [
        ("a b c", 1.0, 2.0, 2.0),
        ("one", 1.0, 3.0, 0.0),
        ("a b", None, 2.0, None),
        ("a b", 2.0, 2.0, None),
        ("", 1.0, 2.0, None),
    ],
)
def test_words_per_second(text, ttft, total, expected):
    assert words_per_second(text, ttft, total) == expected


PASSAGE = (
    "Le 10 novembre 2024, le Washington Post a rapporté que Donald Trump a eu une conversation "
    "téléphonique avec Vladimir Poutine. Cet entretien a eu lieu jeudi dernier."
)


@pytest.mark.parametrize(
    ("sentence", "question", "verdict", "reason"),
    [
        (
            "Le Washington Post a rapporté l'appel [1].",
            "Quel journal a rapporté l'appel ?",
            True,
            "100%",
        ),
        (
            "L'appel a eu lieu mercredi à 17 heures [1].",
            "Quand a eu lieu l'appel ?",
            False,
            "number 17",
        ),
        (
            "Le New York Times a révélé l'appel [1].",
            "Quel journal a révélé l'appel ?",
            False,
            "0% of its new words",
        ),
        (
            "Le Washington Post a rapporté la conversation (1).",
            "Quel journal ?",
            True,
            "100%",
        ),  # a marker
        (
            "The Washington Post reported the call [1].",
            "Which newspaper reported the call?",
            True,
            "100%",
        ),
        (
            "The New York Times reported the call [1].",
            "Which newspaper reported the call?",
            False,
            "missing",
        ),
        ("It lasted 3 hours [1].", "How long was the call?", False, "number 3"),
        ("The call happened, they said [1].", "Was there a call?", True, "no new names or numbers"),
        ("[1]", "Qui ?", None, "no content words"),
    ],
)
def test_sentence_verdict(sentence, question, verdict, reason):
    got, why = sentence_verdict(sentence, [PASSAGE], question)
    assert got is verdict
    assert reason in why


def test_faithfulness_is_the_share_of_supported_sentences():
    answer = "Le Washington Post a rapporté l'appel [1]. L'appel a duré 3 heures [1]."
    assert faithfulness(answer, [PASSAGE], "Quel journal a rapporté l'appel ?") == 0.5
    assert faithfulness(answer, [], "Quel journal ?") is None  # nothing cited: nothing to check
    assert faithfulness("[1]", [PASSAGE]) is None


def test_semantic_similarity_ranks_paraphrase_above_unrelated_text():
    embedder = HashEmbedder()
    same = semantic_similarity("Le Washington Post [1]", ["le Washington Post"], embedder)
    other = semantic_similarity("Le Washington Post [1]", ["des missiles Tomahawk"], embedder)
    assert same == pytest.approx(1.0)
    assert other < 0.5
    assert semantic_similarity("[1]", ["x"], embedder) is None


def with_passages(r, passage):
    r = dict(r)
    r["citations"] = [dict(c, passage=passage) for c in r["citations"] or []]
    return r


def test_summarize_new_answer_metrics():
    results = [with_passages(r, "L'Ukraine et Macron") for r in RESULTS]
    results[0]["draft"] = "L'Ukraine a été envahie [1]"  # 5 words, 4 after the first token in 0.9 s
    results[1]["semantic_similarity"] = 0.5
    s = summarize(results)
    assert s["citation_precision"] == pytest.approx(
        0.5
    )  # q1 cites d1 (gold), q2 cites d3 (not); q3 cites nothing
    assert s["citation_recall"] == pytest.approx(1 / 3)  # q3 abstained: recall 0
    assert s["abstention_precision"] == pytest.approx(
        0.5
    )  # q3 and q4 abstained; q4 is unanswerable
    assert s["abstention_recall"] == 1.0
    assert s["faithfulness"] == 1.0 and s["faithfulness_cases"] == 2  # q1 and q2: answered, cited
    assert s["decode_words_per_s"] == pytest.approx(4 / 0.9)
    assert s["semantic_similarity"] == 0.5
    assert s["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3) + 0) / 3)
    text = format_summary(s)
    assert any(
        line.split()[:2] == ["citation", "precision"] and "50.0%" in line
        for line in text.splitlines()
    )
    assert "faithfulness (n=2 with cited passages)" in text and "semantic similarity" in text


def test_summarize_faithfulness_is_none_without_passage_text():
    s = summarize(RESULTS)  # lines written before passages were recorded
    assert s["faithfulness"] is None and s["faithfulness_cases"] == 0
    assert "semantic_similarity" not in s
