"""Conflicts said out loud (rag.answer.conflicts): a report and its denial, over the seeds' own
sentences, and the pipeline answering with both without asking the model."""

import pytest

from rag.answer import conflicts
from rag.core.types import Answer, Passage
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM
from tests.conftest import SEEDS

WP = "000_b3fd78398ee6b0e0.txt"  # the Washington Post report of the November 2024 call
WP2 = "001_2b9e3b30e134a6cf.txt"
NYP = "002_08de760eebd6501b.txt"  # the New York Post report, and the Kremlin's answers
TRUTH = "003_17ab84beb0fc2423.txt"  # the February 2025 call, announced by Trump: nobody denies it
OCTOBER = "004_04761f5e471519e2.txt"  # the October 2025 call, told by Trump on 4 November
DATES = {WP: "2024-11", WP2: None, NYP: None, TRUTH: "2025-02", OCTOBER: None}

KREMLIN_DENIED = "Le Kremlin avait alors démenti l’information."
CANNOT_CONFIRM = "Le Kremlin a indiqué dimanche ne pouvoir confirmer ou infirmer une information de la presse américaine"
NYP_REPORT = "révèle le New York Post."
WP_LATE_REPORT = (
    "le Washington Post avait déjà fait état d’une conversation téléphonique avec Poutine."
)


def paragraphs(source: str) -> list[Passage]:
    """The article's paragraphs as passages (chunks), in order, numbered from 1 by rank."""
    text = (SEEDS / source).read_text(encoding="utf-8")
    if text.startswith(" date "):
        text = text.split(" ", 3)[3]
    paras = [p.strip() for p in text.split("\n") if p.strip()]
    return [
        Passage(
            source=source, chunk_id=f"{source}:{i}", score=0.0, text=p, rank=0, date=DATES[source]
        )
        for i, p in enumerate(paras)
    ]


def article(source: str) -> list[Passage]:
    return paragraphs(source)


def holding(source: str, needle: str) -> Passage:
    return next(p for p in paragraphs(source) if needle in p.text)


def sentences_of(accounts) -> list[str]:
    return [a.sentence for a in accounts]


@pytest.mark.parametrize(
    "question, polar",
    [
        ("Le Kremlin a-t-il confirmé l'appel révélé par le New York Post ?", True),
        (
            "Donald Trump et Vladimir Poutine se sont-ils parlé au téléphone peu après l'élection ?",
            True,
        ),
        ("Did the phone call really take place?", True),
        (
            "According to the articles, did Trump speak with Putin, as the New York Post reported?",
            True,
        ),
        ("Est-ce que l'appel a été confirmé ?", True),
        (
            "Selon le Kremlin, Poutine et Trump ont-ils parlé d'annulation ou de report du sommet ?",
            True,
        ),
        ("Quel journal a révélé l'appel ?", False),
        ("Comment le Kremlin avait-il réagi à l'information du Washington Post ?", False),
        ("Trump a-t-il dit combien de fois il avait parlé à Poutine ?", False),
        ("Où Poutine a-t-il invité Trump ?", False),
        ("Qu'a dit le Kremlin ?", False),
        (
            "A l'issue des négociations qu'est-ce que l'Australie a obtenue ?",
            False,
        ),  # PIAF's spelling
        ("d'ou vient l'eau des marais ?", False),
        ("Les chapelles sont elles indépendantes ?", True),
        ("Which newspaper reported the call?", False),
        ("How long did the call last?", False),
    ],
)
def test_yes_no_questions_are_told_from_questions_for_a_fact(question, polar):
    assert conflicts.is_polar(question) is polar


def test_a_report_and_the_denial_after_it_are_both_said_and_cited():
    shown = [holding(NYP, WP_LATE_REPORT), holding(TRUTH, "Truth Social")]
    q = "Le Kremlin a-t-il confirmé l'appel entre Trump et Poutine rapporté par le Washington Post ?"
    found, passages = conflicts.find(q, shown, article=article)
    said = sentences_of(found)
    assert found[0].kind == conflicts.REPORT and "Washington Post" in found[0].sentence
    assert KREMLIN_DENIED in said
    assert not any(CANNOT_CONFIRM in s for s in said)  # the Kremlin's answer to the other report
    text, citations = conflicts.say(found, "fr")
    assert text.startswith("Les articles divergent : « ") and text.endswith(".")
    for c in citations:  # each quote verbatim in the passage its number points at
        assert (
            c.quote in passages[c.number - 1].text and f"[{c.number}]" in text and c.quote in text
        )
    assert {c.source for c in citations} == {NYP}


def test_the_outlet_asked_picks_the_report_and_its_own_denial():
    shown = [holding(NYP, NYP_REPORT), holding(NYP, WP_LATE_REPORT)]
    q = "Le Kremlin a-t-il confirmé l'appel entre Donald Trump et Vladimir Poutine révélé par le New York Post ?"
    found, passages = conflicts.find(q, shown, article=article)
    said = sentences_of(found)
    assert NYP_REPORT in said[0] and not any("Washington Post" in s for s in said)
    assert any(CANNOT_CONFIRM in s for s in said) and KREMLIN_DENIED not in said
    # the denial was not among the passages shown: its paragraph is appended and cited
    assert len(passages) > len(shown)
    cited = next(a for a in found if CANNOT_CONFIRM in a.sentence)
    assert cited.number == len(shown) + 1 and passages[cited.number - 1].chunk_id not in {
        p.chunk_id for p in shown
    }


def test_a_month_asked_leaves_out_reports_of_another_time():
    q = "Did Trump and Putin really speak on the phone in November 2024?"
    found, _ = conflicts.find(
        q, [holding(WP, "Washington Post"), holding(NYP, NYP_REPORT)], article=article
    )
    said = " ".join(sentences_of(found))
    assert "Washington Post" in said and "New York Post" not in said
    assert "n’a pas confirmé ces informations" in said  # the Trump entourage, in the same article


def test_the_same_denial_in_two_articles_is_said_once():
    q = "L'entourage de Donald Trump a-t-il confirmé la conversation rapportée par le Washington Post ?"
    found, _ = conflicts.find(
        q, [holding(WP2, "Washington Post"), holding(WP2, "Toutefois")], article=article
    )
    denials = [a.sentence for a in found if a.kind == conflicts.DENIAL]
    assert denials == [
        "Toutefois, l’entourage de Trump n’a pas confirmé officiellement ces détails."
    ]


@pytest.mark.parametrize(
    "question, shown",
    [
        (
            "Quel journal a révélé l'appel entre Trump et Poutine ?",
            [(WP, "Washington Post")],
        ),  # not yes/no
        (
            "Trump et Poutine ont-ils convenu de négocier en février 2025 ?",
            [(TRUTH, "Truth Social")],
        ),  # nobody denies
        (
            "Zelensky a-t-il parlé avec Trump en novembre 2024 ?",
            [(WP, "Washington Post")],
        ),  # another call
        (
            "Trump a-t-il un plan pour mettre fin à la guerre ?",
            [(NYP, NYP_REPORT)],
        ),  # no event asked about
        (
            "Le New York Post a-t-il rapporté l'appel de novembre 2024 ?",
            [(WP, "Washington Post")],
        ),  # outlet absent
        # a denial among the passages, but no report of the event asked about
        (
            "Selon le Kremlin, Poutine et Trump ont-ils parlé du report de leur sommet ?",
            [(NYP, CANNOT_CONFIRM)],
        ),
    ],
)
def test_no_conflict_is_made_up(question, shown):
    passages = [holding(s, needle) for s, needle in shown]
    assert conflicts.find(question, passages, article=article) == ([], passages)


def test_english_question_gets_an_english_lead_and_the_quotes_as_written():
    found, _ = conflicts.find(
        "Did the phone call reported by the Washington Post really take place?",
        [holding(NYP, WP_LATE_REPORT)],
        article=article,
    )
    text, _ = conflicts.say(found, "en")
    assert text.startswith("The articles give conflicting accounts: “") and KREMLIN_DENIED in text


@pytest.fixture
def make_bot(settings):
    RAG(settings).ingest(progress=False)
    return lambda **overrides: RAG(settings.updated(**overrides), llm=FakeLLM(lambda m: "Oui [1]."))


def test_the_pipeline_says_both_accounts_without_asking_the_model(make_bot):
    bot = make_bot()
    q = "Le Kremlin a-t-il confirmé l'appel entre Donald Trump et Vladimir Poutine révélé par le New York Post ?"
    items = list(bot.stream(q))
    answer = items[-1]
    assert answer.conflict and not answer.abstained and answer.short is None
    assert items[0] == answer.text and "New York Post" in answer.text and "infirmer" in answer.text
    assert bot.llm.calls == []  # the model's one-sided "Oui" is not asked for
    # its confidence from the premise and support alone (no model probability, no second draft)
    assert answer.signals.missing == () and answer.signals.no_answer is None
    assert answer.confidence is not None and 0 < answer.confidence <= 1
    for c in answer.citations:
        assert c.quote in answer.passages[c.number - 1].text
    assert len(items) == 2  # the text, then the Answer: no short answer follows
    assert 0 < answer.timings.retrieval_s <= answer.timings.first_token_s <= answer.timings.total_s
    ranks = [p.rank for p in answer.passages]
    assert sorted(ranks) == list(
        range(1, len(ranks) + 1)
    )  # a passage added for a denial ranks after
    off = make_bot(conflicts=False)
    answer = off.ask(q)
    assert not answer.conflict and len(off.llm.calls) >= 1


def test_a_passage_cited_for_both_accounts_is_shown_once_with_both_quotes_marked():
    from rag.ui.render import highlight, sources_html

    found, passages = conflicts.find(
        "Le Kremlin a-t-il confirmé l'appel rapporté par le Washington Post ?",
        [holding(NYP, WP_LATE_REPORT)],
        article=article,
    )
    text, citations = conflicts.say(found, "fr")
    assert [c.number for c in citations[:2]] == [
        1,
        1,
    ]  # the report and "alors démenti", one paragraph
    answer = Answer(
        question="q",
        text=text,
        abstained=False,
        citations=tuple(citations),
        passages=tuple(passages),
    )
    html = sources_html(answer)
    assert html.count('id="src-1"') == 1
    first = next(a for a in html.split("<article")[1:] if 'id="src-1"' in a)
    assert first.count("<mark>") == sum(1 for c in citations if c.number == 1) == 2
    assert "<mark>Le Kremlin avait alors démenti l’information.</mark>" in html
    assert highlight("a b. c d.", "c d.", "a b.", "b.") == "<mark>a b.</mark> <mark>c d.</mark>"


EVERY_CALL = [
    (WP, "Washington Post"),
    (NYP, WP_LATE_REPORT),
    (TRUTH, "Truth Social"),
    (OCTOBER, "deux heures et demie"),
]


@pytest.mark.parametrize(
    "question",
    [
        "Trump a-t-il parlé avec Poutine ?",  # yes: the articles tell of several calls, most undisputed
        "Did Trump call Putin?",
        "Trump a-t-il parlé à Poutine depuis son retour au pouvoir ?",
        "Trump a-t-il parlé deux heures et demie avec Poutine ?",
        "Trump a-t-il révélé le contenu de son appel avec Poutine ?",
        "Trump et Poutine ont-ils parlé de l'Ukraine ?",
        "Trump a-t-il changé de position par rapport à Poutine ?",
        "Le Washington Post est-il un quotidien américain ?",
        "Le Washington Post a-t-il cité des sources anonymes ?",
        "Appel ?",
        "confirmé ?",
        "Et le Washington Post ?",
        "résume l'article du washington post",
    ],
)
def test_questions_no_account_disputes_get_the_models_answer(question):
    passages = [holding(s, needle) for s, needle in EVERY_CALL]
    assert conflicts.find(question, passages, article=article) == ([], passages)


@pytest.mark.parametrize(
    "sentence, kind",
    [
        ("Le Kremlin avait alors démenti l’information.", conflicts.DENIAL),
        (
            "Il ne pouvait ni confirmer ni infirmer l’existence d’une conversation.",
            conflicts.DENIAL,
        ),
        (
            "Interrogé par l’AFP, l’entourage de Donald Trump n’a pas confirmé ces informations.",
            conflicts.DENIAL,
        ),
        (
            "Washington et Moscou n’ont officiellement confirmé aucune communication.",
            conflicts.DENIAL,
        ),
        ("L'appel n'a pas été confirmé par la Maison Blanche.", conflicts.DENIAL),
        ("Le Kremlin ne l'a toujours pas confirmé.", conflicts.DENIAL),
        ("The White House declined to confirm the call.", conflicts.DENIAL),
        ("Le Kremlin n'a pas démenti l'information.", ""),  # a denial negated is none
        ("Moscou ne nie pas l'appel.", ""),
        ("The Kremlin did not deny the report.", ""),
        ("Une infirmière a été libérée.", ""),
        ("Le Kremlin a confirmé l'appel.", conflicts.CONFIRMATION),
        ("Le Parlement a voté, selon le Washington Post.", conflicts.REPORT),  # of any claim
        ("Tout le monde en parle, selon l'article.", ""),
        ("Le Washington Post rapporte que Trump a parlé à Poutine jeudi.", conflicts.REPORT),
    ],
)
def test_sentences_are_told_apart(sentence, kind):
    assert conflicts._kind(sentence) == kind


def test_a_confirmation_between_a_report_and_a_denial_parts_them():
    p = Passage(
        source=NYP,
        chunk_id=f"{NYP}:0",
        score=0.0,
        text="Le Washington Post a rapporté un appel de Trump à Poutine. "
        "Le Kremlin a confirmé l'appel. Il a démenti les rumeurs de sanctions.",
        rank=1,
    )
    assert conflicts.find("L'appel rapporté par le Washington Post a-t-il été confirmé ?", [p]) == (
        [],
        [p],
    )


def test_without_the_article_the_passages_alone_are_read():
    shown = [holding(NYP, WP_LATE_REPORT)]
    found, passages = conflicts.find(
        "Le Kremlin a-t-il confirmé l'appel rapporté par le Washington Post ?", shown
    )
    assert sentences_of(found) == [
        "Quelques jours après la victoire électorale du républicain en novembre, " + WP_LATE_REPORT,
        KREMLIN_DENIED,
    ]
    assert passages == shown and [a.number for a in found] == [1, 1]


def test_a_denial_beyond_the_retrieved_window_widens_it_to_its_chunk():
    whole = holding(NYP, CANNOT_CONFIRM)
    window = Passage(
        source=NYP, chunk_id=whole.chunk_id, score=0.5, text=whole.text.split(". ")[-1], rank=2
    )  # its last sentence only
    shown = [holding(NYP, NYP_REPORT), window]
    found, passages = conflicts.find(
        "Le Kremlin a-t-il confirmé l'appel révélé par le New York Post ?", shown, article=article
    )
    denial = next(a for a in found if CANNOT_CONFIRM in a.sentence)
    assert len(passages) == len({p.chunk_id for p in passages})  # no chunk shown twice
    assert denial.sentence in passages[denial.number - 1].text
    assert [p.rank for p in passages[len(shown) :]] == list(
        range(len(shown) + 1, len(passages) + 1)
    )


def test_english_names_are_found_in_english_passages():
    p = Passage(
        source="en.txt",
        chunk_id="en.txt:0",
        score=0.0,
        text="The Washington Post reported that Trump spoke with Putin on Thursday. "
        "The Kremlin denied the report.",
        rank=1,
        date="2024-11-10",
    )
    found, _ = conflicts.find(
        "Did Putin really speak with Trump, as the Washington Post reported?", [p]
    )
    assert sentences_of(found) == [
        "The Washington Post reported that Trump spoke with Putin on Thursday.",
        "The Kremlin denied the report.",
    ]


# Other stories: the claim is whatever the question asks about, not a call.
MACRON = Passage(  # Wikinews fr, 8 November 2016 (wikinews-fr-2016_11_08-001), two paragraphs
    source="macron.txt",
    chunk_id="macron.txt:0",
    score=0.0,
    text="L'entourage d'Emmanuel Macron annonçait ce matin à l'Agence France-Presse que l'ancien "
    "ministre de l'Économie se présenterait à l'élection présidentielle de 2017 et qu'il "
    "confirmerait sa candidature au début du mois de décembre. Néanmoins, l'entourage "
    "d'Emmanuel Macron a démenti cette information auprès du journal Le Monde dans l'après-midi.",
    rank=1,
    date="2016-11-08",
)
MERGER = Passage(
    source="merger.txt",
    chunk_id="merger.txt:0",
    score=0.0,
    text="Acme agreed to a merger with Globex last week, Bloomberg reported on Monday, citing "
    "people familiar with the matter. Shares of Globex rose 8 percent. Acme denied the report "
    "in a statement.",
    rank=1,
    date="2023-03-06",
)
ACCORD = Passage(
    source="accord.txt",
    chunk_id="accord.txt:0",
    score=0.0,
    text="Selon Le Canard enchaîné, la mairie de Lyon aurait signé un accord secret avec le "
    "promoteur du stade. La mairie n'a pas confirmé cet accord.",
    rank=1,
    date="2019-05-02",
)


@pytest.mark.parametrize(
    "question, passage, report, denial",
    [
        (
            "L'entourage d'Emmanuel Macron a-t-il confirmé sa candidature à l'élection "
            "présidentielle ?",
            MACRON,
            "annonçait ce matin à l'Agence France-Presse",
            "a démenti cette information",
        ),
        (
            "Did Acme really agree to a merger with Globex?",
            MERGER,
            "Bloomberg reported",
            "Acme denied the report",
        ),
        (
            "La mairie de Lyon a-t-elle vraiment signé un accord secret avec le promoteur ?",
            ACCORD,
            "accord secret",
            "n'a pas confirmé cet accord",
        ),
    ],
)
def test_a_report_and_its_denial_are_found_on_any_claim(question, passage, report, denial):
    found, _ = conflicts.find(question, [passage])
    assert [a.kind for a in found] == [conflicts.REPORT, conflicts.DENIAL]
    assert report in found[0].sentence and denial in found[1].sentence
    assert all(a.sentence in passage.text for a in found)


@pytest.mark.parametrize(
    "question, passage",
    [
        ("Emmanuel Macron a-t-il vraiment rencontré François Hollande ?", MACRON),  # another claim
        ("Did Acme really close its plant in Ohio?", MERGER),
        ("La mairie a-t-elle vraiment vendu la piscine ?", ACCORD),  # one word of the claim
        ("Did Initech really agree to a merger with Globex?", MERGER),  # a name no account has
        ("Acme a-t-elle fusionné avec Globex ?", MERGER),  # asks neither if true nor if reported
    ],
)
def test_a_report_of_another_claim_is_no_conflict(question, passage):
    assert conflicts.find(question, [passage]) == ([], [passage])


@pytest.mark.parametrize(
    "question, asked",
    [
        ("Did Acme really agree to a merger, as Bloomberg reported?", {"acme", "agree", "merger"}),
        (
            "La mairie a-t-elle démenti l'accord secret révélé en mai 2019 ?",
            {"mairie", "accord", "secret"},
        ),
        ("Did the summit in Beijing take place?", {"summit", "pekin"}),
    ],
)
def test_the_claim_is_what_the_question_asks_about(question, asked):
    assert conflicts.claim(question) == asked
