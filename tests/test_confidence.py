import pytest

from rag.answer.confidence import (
    FOCUS_FULL,
    agrees,
    combine,
    focus,
    missing_terms,
    missing_text,
    premise,
    premise_terms,
)
from rag.core.types import Signals
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM


@pytest.mark.parametrize(
    ("question", "terms"),
    [
        (
            "Pourquoi Édouard Philippe a-t-il tweeté le 1er décembre 2018 ?",
            ["Édouard Philippe", "2018"],
        ),
        (
            "How much did Google pay to buy Magento Commerce in 2018?",
            ["Google", "Magento Commerce", "2018"],
        ),
        ("Why was Usain Bolt's team disqualified in Rio?", ["Usain Bolt", "Rio"]),
        ("Combien de Boeing 787 l'Iran a-t-il commandés ?", ["Boeing", "787", "Iran"]),
        ("Quel jour a-t-il été condamné à deux ans de prison ?", ["deux"]),
        # a sentence's first word is no name; a run of capitalised words is one
        ("Qui l'a dit ? Personne, selon Le Figaro.", ["Le Figaro"]),
        ("What did they say on Wednesday, in October?", []),  # days and months are no names
        ("Quand l'appel a-t-il eu lieu ?", []),
    ],
)
def test_premise_terms_are_the_names_and_numbers_of_the_question(question, terms):
    assert premise_terms(question) == terms


@pytest.mark.parametrize(
    ("question", "texts", "missing"),
    [
        (
            "Combien de Boeing 787 l'Iran a-t-il commandés ?",
            ["L'Iran achète 114 Airbus et des Boeing 737."],
            ("787",),
        ),
        (
            "Pourquoi Christophe Castaner a-t-il démissionné ?",
            ["Le ministre de l'Intérieur a parlé."],
            ("Christophe Castaner",),
        ),
        ("Qui a parlé à Élysée ?", ["Les conseillers de l'ELYSEE ont parlé."], ()),  # accents, case
        (
            "Who spoke to two reporters in Moscow?",
            ["Poutine a parlé à deux journalistes à Moscou."],
            (),
        ),
        ("What did Putin say?", ["Vladimir Poutine a dit que…"], ()),  # spelt alike, same initial
        ("What did Pence say?", ["Vladimir Poutine a dit que…"], ("Pence",)),
        (
            "Combien de morts le 12 juin 2017 ?",
            ["La fusillade du 12 juin 2016 a fait 49 morts."],
            ("2017",),
        ),
    ],
)
def test_missing_terms_are_those_the_passages_lack(question, texts, missing):
    assert missing_terms(question, texts) == missing


def test_premise_is_the_share_of_terms_found():
    assert premise("Quand Trump a-t-il appelé Macron ?", ["Trump a appelé."]) == (0.5, ("Macron",))
    assert premise("Quand l'appel a-t-il eu lieu ?", ["rien"]) == (1.0, ())


@pytest.mark.parametrize(
    ("first", "second", "short", "same"),
    [
        (
            "Le Washington Post l'a révélé [1].",
            "Selon le Washington Post [2].",
            "Washington Post",
            True,
        ),
        ("L'appel a duré deux heures [1].", "L'appel a duré 2 heures [2].", None, True),
        (
            "Le Washington Post l'a révélé [1].",
            "Le New York Times l'a révélé [2].",
            "Washington Post",
            False,
        ),
        ("Il était à Miami [1].", "", None, False),
    ],
)
def test_agrees_on_the_short_answer_or_the_same_words(first, second, short, same):
    assert agrees(first, second, short) is same


def test_combine_multiplies_the_signals_and_missing_ones_count_one():
    assert combine(Signals(support=1.0)) == 1.0
    assert combine(Signals(support=1.0, no_answer=0.2)) == pytest.approx(0.8)
    assert combine(Signals(support=0.8, key_support=0.5)) == pytest.approx(0.5)
    assert combine(Signals(support=1.0, missing=("X",), premise=0.5)) == pytest.approx(0.1)
    assert combine(Signals(support=1.0, premise=0.5)) == pytest.approx(0.75)  # cited lack one
    assert combine(Signals(support=1.0, agreement=0.0)) == pytest.approx(0.5)
    assert combine(Signals(support=1.0, agreement=1.0)) == 1.0


TOUR = (
    "Le peloton a traversé les Pyrénées sous la pluie. Christopher Froome remporte le Tour de "
    "France 2017 à Paris. Rigoberto Uran termine deuxième du classement."
)


@pytest.mark.parametrize(
    ("question", "short", "expected"),
    [
        # the answer's sentence holds the question's words
        ("Qui a remporté le Tour de France 2017 ?", "Christopher Froome", 1.0),
        # a fact two sentences away from them: only what the neighbour sentence shares
        ("Quel temps faisait-il dans les Pyrénées ?", "Rigoberto Uran", 0.0),
        # 3 of its 4 words: "roulé" is not in the passage
        ("Où le peloton a-t-il roulé sous la pluie ?", "Pyrénées", 0.75),
        # an English question over French passages: not measured (its words are translated)
        ("Who won the 2017 Tour de France?", "Christopher Froome", None),
    ],
)
def test_focus_is_the_share_of_the_question_words_around_the_answer(question, short, expected):
    assert focus(question, short, [], [TOUR]) == (
        expected if expected is None else pytest.approx(expected)
    )


def test_focus_falls_back_on_the_quote_and_lowers_the_confidence():
    quote = "Rigoberto Uran termine deuxième du classement"
    share = focus("Quel temps faisait-il dans les Pyrénées ?", None, [quote], [TOUR])
    assert share == 0.0
    assert combine(Signals(support=1.0, focus=0.25)) == pytest.approx(0.25 / FOCUS_FULL)
    assert combine(Signals(support=1.0, focus=0.9)) == 1.0  # from FOCUS_FULL on: nothing lowered


def test_missing_text_names_what_is_missing_in_the_answer_language():
    assert missing_text(["Hubble"], "fr") == "Les articles ne mentionnent pas « Hubble »."
    assert missing_text(["Pence", "1999"], "en") == "The articles do not mention “Pence”, “1999”."


# -- in the pipeline, with the fakes ------------------------------------------------------------
@pytest.fixture
def make_bot(settings):
    RAG(settings).ingest(progress=False)

    def make(script=None, choice=None, **overrides) -> RAG:
        return RAG(settings.updated(**overrides), llm=FakeLLM(script, choice=choice))

    return make


def cite(needle: str, claim: str):
    """A scripted reply that cites the prompt passage holding `needle`."""

    def script(messages):
        for block in messages[-1]["content"].split("\n\n["):
            if needle in block:
                return f"{claim} [{int(block.lstrip('[').split(']')[0])}]."
        return "NO_ANSWER"

    return script


FOGEL = "Quel Américain détenu en Russie a été remis en liberté ?"


def test_an_answer_gets_its_confidence_and_signals(make_bot):
    answer = make_bot(cite("Marc Fogel", "Marc Fogel a été remis en liberté")).ask(FOGEL)
    assert not answer.abstained and answer.signals is not None
    s = answer.signals
    assert s.missing == () and s.premise == 1.0 and s.support > 0.5
    assert s.chosen == 1.0 and s.no_answer == 0.0  # the fake picks the first span, never NO_ANSWER
    assert s.agreement is None  # agreement_below 0: no second draft
    assert answer.confidence == pytest.approx(combine(s)) and 0 < answer.confidence <= 1
    assert answer.to_dict()["confidence"] == answer.confidence


def test_a_name_the_cited_passages_lack_is_said_when_withheld(make_bot):
    question = "Quel Américain Jean Dupontel a-t-il fait remettre en liberté en Russie ?"
    script = cite("Marc Fogel", "Marc Fogel a été remis en liberté")
    kept = make_bot(script, min_confidence=0).ask(question)
    assert not kept.abstained and kept.signals.missing == ("Jean Dupontel",)  # "Américain" found
    assert kept.confidence < 0.2
    withheld = make_bot(script, min_confidence=0.5).ask(question)
    assert withheld.abstained and withheld.withheld == "premise" and withheld.citations == ()
    assert withheld.text == "Les articles ne mentionnent pas « Jean Dupontel »."


def test_no_answer_from_the_model_lowers_the_confidence_below_the_threshold(make_bot):
    script = cite("Marc Fogel", "Marc Fogel a été remis en liberté")
    answer = make_bot(script, choice=lambda m: "NO_ANSWER", min_confidence=0.3).ask(FOGEL)
    assert answer.abstained and answer.withheld == "low-confidence"
    assert answer.text == "Les articles ne le disent pas." and answer.signals.no_answer == 1.0


def test_a_second_draft_is_written_below_agreement_below_and_compared(make_bot):
    bot = make_bot(cite("Marc Fogel", "Marc Fogel a été remis en liberté"), agreement_below=1.0)
    answer = bot.ask(FOGEL)
    assert bot.llm.tasks.count("answer") == 2 and answer.signals.agreement == 1.0
    replies = iter(["Marc Fogel a été remis en liberté", "Un enseignant américain est rentré"])
    state = {}

    def changing(messages):
        state["claim"] = next(replies, state.get("claim"))
        return cite("Marc Fogel", state["claim"])(messages)

    answer = make_bot(changing, agreement_below=1.0).ask(FOGEL)
    assert answer.signals.agreement == 0.0
    assert answer.confidence == pytest.approx(combine(answer.signals))
    assert answer.confidence <= 0.5  # halved: DISAGREES


def test_a_missing_name_is_said_whole_from_its_first_missing_word_to_its_last():
    question = "Combien de chèques Marine Le Pen a-t-elle reçus ?"
    assert missing_terms(question, ["François Fillon a reçu sept chèques."]) == ("Marine Le Pen",)
    assert missing_terms(question, ["Marine Le Pen a reçu sept chèques."]) == ()


def test_across_languages_only_numbers_count_as_missing(make_bot):
    # "White House" is "Maison-Blanche" in the French passages: not a false premise
    script = cite("Marc Fogel", "Marc Fogel, an American teacher, was freed by Russia")
    answer = make_bot(script).ask("Who did the White House say Marc Fogel was?")
    assert (answer.withheld, answer.signals.missing) == ("", ())
    answer = make_bot(script, min_confidence=0).ask(
        "Who did the White House say Marc Fogel was in 1234?"
    )
    assert (answer.withheld, answer.signals.missing) == ("", ("1234",))
