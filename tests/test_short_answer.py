"""The short answer: word spans of the cited quotes as options, the model's constrained choice
among them (rag.answer.short), the pipeline's second Answer, and `rag eval`'s EM/F1 of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.answer.short import MAX_WORDS, extract, spans
from rag.core.settings import Settings
from rag.evaluation.metrics import format_summary, summarize
from rag.llm.llamacpp import _gbnf_literal
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM

# a sentence of seeds/000_b3fd78398ee6b0e0.txt
SENTENCE = (
    "Le 10 novembre 2024, le Washington Post a rapporté que Donald Trump, le futur président des "
    "États-Unis, a récemment eu une conversation téléphonique avec le président russe Vladimir "
    "Poutine, au cours de laquelle il a mis en garde contre toute escalade supplémentaire du conflit en Ukraine."
)
QUESTION = "Quel quotidien américain a révélé la conversation téléphonique entre Trump et Poutine ?"


def test_spans_are_verbatim_short_and_end_on_a_word_that_can_end_an_answer():
    found = spans(SENTENCE)
    flat = " ".join(SENTENCE.split())
    assert {
        "Washington Post",
        "le Washington Post",
        "10 novembre 2024",
        "Vladimir Poutine",
        "Ukraine",
    } <= set(found)
    assert all(s in flat for s in found)
    assert all(len(s.split()) <= MAX_WORDS for s in found)
    assert len(found) == len(set(found))
    # trimmed of punctuation, never ending on an article or preposition, always holding a content word
    assert "Post," not in found and "Washington Post a rapporté que" not in found
    assert not any(s.split()[-1].lower() in {"le", "de", "du", "contre", "au"} for s in found)
    assert "le" not in found and "a" not in found
    assert spans("") == [] and spans(", et de la") == []


def test_extract_takes_the_option_the_model_chose(tmp_path):
    prompts = Settings().answer.prompts_dir
    llm = FakeLLM(choice=["Washington Post"])
    assert extract(llm, prompts, QUESTION, [SENTENCE]) == "Washington Post"
    prompt = llm.calls[-1][-1]["content"]
    assert SENTENCE in prompt and QUESTION in prompt
    assert (
        extract(llm, prompts, QUESTION, []) == "" and extract(llm, prompts, QUESTION, ["  "]) == ""
    )


def test_the_short_answer_is_words_of_a_cited_quote(settings):
    RAG(settings).ingest(progress=False)
    llm = FakeLLM(lambda m: "Le Washington Post a révélé l'appel [1].", choice=["Washington Post"])
    answer = RAG(settings, llm=llm).ask(QUESTION)
    assert not answer.abstained and answer.short == "Washington Post"
    assert any(answer.short in c.quote for c in answer.citations)
    assert answer.to_dict()["short"] == "Washington Post"
    abstained = RAG(settings, llm=FakeLLM(lambda m: "NO_ANSWER")).ask(QUESTION)
    assert abstained.abstained and abstained.short is None


def test_gbnf_literals_escape_quotes_backslashes_and_line_ends():
    assert _gbnf_literal('il a dit "non"') == '"il a dit \\"non\\""'
    assert _gbnf_literal("a\\b\nc") == '"a\\\\b\\nc"'


def _result(short, abstained=False, expected=("Washington Post",)):
    return {
        "id": "x",
        "question": "q",
        "answer": "Le Washington Post [1].",
        "short": short,
        "abstained": abstained,
        "cited_sources": ["a"],
        "retrieved_sources": ["a"],
        "expected": list(expected),
        "gold_sources": ["a"],
    }


def test_eval_scores_the_short_answer_by_exact_match_and_f1():
    s = summarize(
        [
            _result("le Washington Post"),
            _result("Washington"),
            _result("Washington Post", abstained=True),
        ]
    )
    assert s["short_exact_match"] == pytest.approx(1 / 3)
    assert s["short_f1"] == pytest.approx((1 + 2 / 3) / 3)
    assert "short answer exact match / F1" in format_summary(
        s
    ) and "33.3% / 55.6%" in format_summary(s)
    old = _result("x")
    del old["short"]
    assert summarize([old])["short_f1"] is None  # results written before short answers


MODEL_CACHE = Path(os.environ.get("RAG_TEST_MODEL_CACHE", Path.home() / ".cache" / "rag-news"))


@pytest.mark.model
def test_llamacpp_picks_the_span_under_its_grammar():
    pytest.importorskip("xllamacpp", reason="the llamacpp backend needs xllamacpp")
    from rag.llm.llamacpp import LlamaCppLLM

    llm = LlamaCppLLM(Settings(model_cache=MODEL_CACHE, model_file=None, threads=2))
    short = extract(llm, Settings().answer.prompts_dir, QUESTION, [SENTENCE])
    assert short in spans(SENTENCE) and "Washington Post" in short and len(short.split()) <= 3, (
        short
    )
    duration = "Selon lui, les deux chefs d'Etat ont convenu pendant cet entretien d'une heure et demie de travailler ensemble."
    short = extract(
        llm, Settings().answer.prompts_dir, "Combien de temps a duré l'entretien ?", [duration]
    )
    assert "heure et demie" in short and len(short.split()) <= 5, short


def _step(token: str, tops: dict[str, float]) -> dict:
    """A step as llama.cpp reports it: the token taken, the top tokens' log-probabilities."""
    import math

    return {
        "bytes": list(token.encode()),
        "logprob": math.log(tops[token]),
        "top_logprobs": [
            {"bytes": list(t.encode()), "logprob": math.log(p)} for t, p in tops.items()
        ],
    }


def test_walk_shares_renormalise_over_the_tokens_an_option_allows():
    from rag.llm.llamacpp import walk_shares

    steps = [
        # "Le" leads to two options, "L'" to one, "NO" to the abstention, "Il" to none
        _step("Le", {"Le": 0.5, "L'": 0.2, "NO": 0.1, "Il": 0.2}),
        _step(" Washington", {" Washington": 0.6, " Kremlin": 0.2, " X": 0.2}),
        _step(" Post", {" Post": 0.9}),
        _step("", {"": 0.8, ".": 0.2}),
    ]
    shares = walk_shares(steps, ["Le Washington Post", "Le Kremlin", "L'AFP"], "NO_ANSWER")
    allowed = 0.5 + 0.2 + 0.1  # "Il" ends no option: left out of the first step's total
    assert shares["L'AFP"] == pytest.approx(0.2 / allowed)
    assert shares["NO_ANSWER"] == pytest.approx(0.1 / allowed)
    assert shares["Le Kremlin"] == pytest.approx(0.5 / allowed * 0.2 / 0.8)
    assert shares["Le Washington Post"] == pytest.approx(0.5 / allowed * 0.6 / 0.8)
    assert sum(shares.values()) == pytest.approx(1.0)


@pytest.mark.model
def test_llamacpp_choose_gives_the_options_probabilities():
    pytest.importorskip("xllamacpp", reason="the llamacpp backend needs xllamacpp")
    from rag.llm.llamacpp import LlamaCppLLM

    llm = LlamaCppLLM(Settings(model_cache=MODEL_CACHE, model_file=None, threads=2))
    passage = (
        "Le Washington Post a révélé l'appel entre les deux présidents, démenti par le Kremlin."
    )
    options = ["Washington Post", "Kremlin", "deux présidents"]

    def asked(question: str) -> dict[str, float]:
        prompt = f"Passage : {passage}\nQuestion : {question} Réponds par les mots du passage, ou NO_ANSWER."
        return llm.choose([{"role": "user", "content": prompt}], options, "NO_ANSWER")

    revealed = asked("Qui a révélé l'appel ?")
    assert sum(revealed.values()) == pytest.approx(1.0, abs=1e-6)
    assert 0 < revealed["Washington Post"] < 1 and revealed["Kremlin"] < 0.05, revealed
    # a question the passage does not answer: more weight on NO_ANSWER
    unanswered = asked("Quel âge a le président ?")
    assert unanswered["NO_ANSWER"] > max(revealed["NO_ANSWER"], 0.5), unanswered


@pytest.mark.model
def test_llamacpp_stops_generating_when_the_reader_leaves():
    """A closed stream (the browser left) stops llama.cpp at its next token and frees the engine:
    the next request then runs at once, not after the abandoned one's 200 tokens."""
    pytest.importorskip("xllamacpp", reason="the llamacpp backend needs xllamacpp")
    import time

    from rag.llm.llamacpp import LlamaCppLLM

    llm = LlamaCppLLM(Settings(model_cache=MODEL_CACHE, model_file=None, threads=2))
    story = [{"role": "user", "content": "Écris une très longue histoire sur la mer."}]
    "".join(llm.stream(story, 4))  # loaded and warm
    start = time.perf_counter()
    full = list(llm.stream(story, 200))
    whole = time.perf_counter() - start
    start = time.perf_counter()
    stream = llm.stream(story, 200)
    next(stream), next(stream), next(stream)
    stream.close()
    assert not llm._lock.locked()
    "".join(llm.stream(story, 4))
    left = time.perf_counter() - start
    assert len(full) > 100 and left < whole / 3, (len(full), whole, left)


# -- conflicts ---------------------------------------------------------------------------------
SIDES = [
    {"answers": ["Washington Post"], "sources": ["000.txt"]},
    {"answers": ["démenti"], "sources": ["002.txt"]},
]


def _conflict(answer, cited, abstained=False):
    return {
        **_result("", abstained),
        "answer": answer,
        "cited_sources": cited,
        "sides": SIDES,
        "type": "conflict",
    }


def test_a_conflict_counts_only_when_both_accounts_are_said_and_cited():
    both = _conflict(
        "Le Washington Post l'a rapporté [1], mais le Kremlin l'a démenti [2].",
        ["000.txt", "002.txt"],
    )
    one_cited = _conflict(
        "Le Washington Post l'a rapporté, mais le Kremlin l'a démenti [2].", ["002.txt"]
    )
    one_said = _conflict("Le Kremlin l'a démenti [2].", ["000.txt", "002.txt"])
    withheld = _conflict(
        "Le Washington Post, démenti [1] [2].", ["000.txt", "002.txt"], abstained=True
    )
    s = summarize([both, one_cited, one_said, withheld, _result("Washington Post")])
    assert s["conflict_cases"] == 4 and s["conflict"] == pytest.approx(1 / 4)
    assert "conflicts said, both sides cited (n=4)" in format_summary(s)
    assert summarize([_result("Washington Post")])["conflict"] is None


def test_a_conflicts_accounts_are_not_scored_as_a_short_answer():
    accounts = {
        **_conflict(
            "Les articles divergent : « … Washington Post … » [1] ; « … démenti … » [2].",
            ["000.txt", "002.txt"],
        ),
        "short": None,
        "conflict": True,
    }
    s = summarize([_result("Washington Post"), _result("Washington"), accounts])
    assert s["short_cases"] == 2 and s["short_exact_match"] == pytest.approx(1 / 2)
    assert s["conflict"] == 1.0


def test_seeds_conflict_cases_are_well_formed():
    from rag.evaluation.runner import case_problems, load_testset

    cases = [
        c
        for c in load_testset(Path(__file__).parent.parent / "evals" / "seeds.jsonl")
        if c.get("type") == "conflict"
    ]
    assert len(cases) >= 6 and all(len(c["sides"]) >= 2 for c in cases)
    bad = {
        "id": "x",
        "question": "?",
        "answers": ["a"],
        "sources": ["s"],
        "sides": [{"answers": ["a"], "sources": []}],
    }
    assert case_problems(bad) == [
        '\'sides\' must be a list of two or more {"answers": [...], "sources": [...]} objects, one for each account of a conflict'
    ]


def test_focus_keeps_the_spans_the_full_answer_says_and_not_the_question_again():
    from rag.answer.short import focus, options

    question = "Combien de temps a duré l'appel d'octobre entre Donald Trump et Vladimir Poutine ?"
    quote = (
        "Le 4 novembre, Donald Trump a révélé le contenu de son entretien téléphonique de deux "
        "heures et demie avec Vladimir Poutine le mois précédent."
    )
    focused = focus(options([quote]), question, "L'appel a duré deux heures et demie [1].")
    assert "deux heures et demie" in focused.values() and "4 novembre" not in focused.values()
    assert all(v in "deux heures et demie" for v in focused.values())
    unfocused = focus(
        options([quote]), "Qui a révélé le contenu de l'entretien téléphonique ?"
    )  # no answer, no asked kind: only the question's words are dropped
    assert "4 novembre" in unfocused.values() and "contenu" not in unfocused.values()
    assert (
        focus(
            options([quote]), "Qui a révélé le contenu de l'entretien téléphonique ?", "Rien [1]."
        )
        == unfocused
    )  # nothing agrees: all stay


def test_focus_keeps_the_spans_of_the_asked_kind():
    """wn-en-11 of the 2026-12-07 Wikinews run: "Jérôme Cahuzac a été condamné" for "how long a
    prison sentence" (an English answer: no span of it agrees) became "trois ans de prison
    ferme" (docs/results/2026-12-07-selective-piaf.md)."""
    from rag.answer.short import focus, options

    quote = "Jeudi, les deux présidents ont parlé une heure et demie, selon Le Monde."
    how_long = set(focus(options([quote]), "Combien de temps ont-ils parlé ?").values())
    assert "une heure et demie" in how_long and "Le Monde" not in how_long
    assert all("heure" in v for v in how_long)
    day = set(focus(options([quote]), "Quel jour ont-ils parlé ?").values())
    assert "Jeudi" in day and all("Jeudi" in v for v in day)
    # nothing of the kind in the quote: the narrowing leaves the options as they were
    assert focus(options(["Le Monde l'a écrit."]), "Combien de temps ont-ils parlé ?")
    # the spans the full answer says come first: the kind only chooses among them
    agreed = focus(options([quote]), "Combien de temps ont-ils parlé ?", "Selon Le Monde [1].")
    assert set(agreed.values()) <= {"Monde", "Le Monde", "selon Le Monde"}


def test_spans_keep_quote_marks_paired_and_acronyms():
    found = spans("Le Kremlin a dit « non » -- selon l'AFP, le « Washington Post » a menti.")
    assert "Washington Post" in found and "Le Kremlin a dit « non »" in found
    assert not any(s.count("«") != s.count("»") for s in found)
    assert "AFP" in found and not any(s.endswith(("--", "-")) for s in found)


def test_a_failing_short_answer_leaves_the_checked_answer(settings):
    class Broken(FakeLLM):
        def choose(self, messages, options, abstain=None):
            raise RuntimeError("engine crashed")

    RAG(settings).ingest(progress=False)
    llm = Broken(lambda m: "Le Washington Post a révélé l'appel [1].")
    answer = RAG(settings, llm=llm).ask(QUESTION)
    assert not answer.abstained and answer.citations and answer.short is None
    unmatched = RAG(
        settings, llm=FakeLLM(lambda m: "Le Washington Post a révélé l'appel [1].", choice=["rien"])
    )
    assert unmatched.ask(QUESTION).short == ""  # a reply that is no span gives no short answer
