"""Time expressions resolved against the article's date (rag.text.timeline, rag.text.dated), over sentences
copied from the seed articles, then through ingest, the store and retrieval."""

from __future__ import annotations

import pytest

from rag.text.dated import annotate, asked_keys, keys, label, marks
from rag.text.timeline import parse_base, resolve

# (sentence from seeds/, its article's date, expression, value, precision)
SEEDS = [
    # 001: "Le 10 novembre 2024, le Washington Post a rapporté …" (a Sunday)
    (
        "Cet entretien, qui a eu lieu jeudi dernier, marque la première conversation directe entre "
        "les deux dirigeants depuis la victoire de Trump à l’élection présidentielle.",
        "2024-11-10",
        "jeudi dernier",
        (2024, 11, 7),
        "day",
    ),
    (
        "Trump a également eu un entretien avec le président ukrainien Volodymyr Zelensky mercredi, "
        "lors duquel Elon Musk a participé.",
        "2024-11-10",
        "mercredi",
        (2024, 11, 6),
        "day",
    ),
    (
        "Le Kremlin, de son côté, a souligné que Trump … si et quand il revient à la Maison-Blanche "
        "le 20 janvier.",
        "2024-11-10",
        "le 20 janvier",
        (2025, 1, 20),
        "day",
    ),
    (
        "Le 10 novembre 2024, le Washington Post a rapporté que Donald Trump …",
        "2024-11-10",
        "Le 10 novembre 2024",
        (2024, 11, 10),
        "day",
    ),
    # 000: the same week's story in an article dated only "2024-11"
    (
        "Donald Trump s’est entretenu jeudi avec le président russe Vladimir Poutine et lui aurait "
        "demandé de ne pas provoquer d’escalade en Ukraine, rapporte dimanche le quotidien américain "
        "Washington Post.",
        "2024-11",
        "jeudi",
        (2024, 11, None),
        "month",
    ),
    (
        "Il s’agirait de la première conversation téléphonique entre les deux hommes depuis que Trump "
        "a remporté la présidentielle américaine mardi dernier.",
        "2024-11",
        "mardi dernier",
        (2024, 11, None),
        "month",
    ),
    # 003: the February 2025 call, article dated "2025-02"
    (
        'Ce mercredi, Donald Trump et Vladimir Poutine ont eu "une conversation prolongée et très '
        "productive\" lors d'un entretien téléphonique",
        "2025-02",
        "Ce mercredi",
        (2025, 2, None),
        "month",
    ),
    (
        "… en rapportant ce premier échange avec le président russe depuis son retour au pouvoir le "
        "20 janvier.",
        "2025-02",
        "le 20 janvier",
        (2025, 1, 20),
        "day",
    ),
    # 004: undated; the October 2025 call told on 4 November
    (
        "Le 4 novembre (heure américaine), le président américain Donald Trump a révélé une partie "
        "importante du contenu de son entretien téléphonique de deux heures et demie avec le président "
        "russe Vladimir Poutine le mois précédent.",
        None,
        "le mois précédent",
        (None, 10, None),
        "month",
    ),
    (
        "L'appel téléphonique d'octobre entre les deux dirigeants aurait pris Kiev par surprise. Le "
        "lendemain, le président ukrainien Volodymyr Zelensky s'est rendu à la Maison Blanche",
        None,
        "Le lendemain",
        (None, 10, None),
        "month",
    ),
    (
        "… le conflit ukrainien, qui a débuté en 2014 et s'est considérablement aggravé en 2022.",
        None,
        "2022",
        (2022, None, None),
        "year",
    ),
    # 002: undated, so a weekday resolves to nothing (below)
]


@pytest.mark.parametrize("sentence,date,expression,value,precision", SEEDS)
def test_seed_sentences_resolve_against_the_article_date(
    sentence, date, expression, value, precision
):
    found = {w.text: w for w in resolve(sentence, date)}
    assert expression in found, found
    assert (found[expression].value, found[expression].precision) == (value, precision)


def test_the_weekday_follows_the_tense_and_the_nearest_week():
    base = "2024-11-10"  # a Sunday
    future = (
        "La rencontre entre Joe Biden et Donald Trump est prévue dans le Bureau ovale mercredi."
    )
    assert resolve(future, base)[0].value == (2024, 11, 13)
    assert resolve("Il s’est par ailleurs déjà entretenu mercredi avec Zelensky.", base)[
        0
    ].value == (2024, 11, 6)
    assert resolve("Le Kremlin a estimé dimanche que …", base)[0].value == (2024, 11, 10)
    assert resolve("Le Kremlin parlera vendredi.", base)[0].value == (2024, 11, 15)
    assert resolve("Il viendra lundi prochain.", base)[0].value == (2024, 11, 11)
    assert resolve("Trump spoke on Thursday.", base)[0].value == (2024, 11, 7)
    assert resolve("They will meet next Monday.", base)[0].value == (2024, 11, 11)


def test_relative_phrases_go_through_dateparser_and_keep_their_precision():
    text = (
        "Il a parlé hier, il y a trois jours, la semaine dernière, l'an dernier et le mois dernier."
    )
    got = [(w.text, w.value, w.precision) for w in resolve(text, "2024-11-10")]
    assert got == [
        ("hier", (2024, 11, 9), "day"),
        ("il y a trois jours", (2024, 11, 7), "day"),
        ("la semaine dernière", (2024, 10, 28), "week"),
        ("l'an dernier", (2023, None, None), "year"),
        ("le mois dernier", (2024, 10, None), "month"),
    ]
    english = [
        (w.text, w.value) for w in resolve("yesterday, two days ago, in May 2025", "2024-11-10")
    ]
    assert english == [
        ("yesterday", (2024, 11, 9)),
        ("two days ago", (2024, 11, 8)),
        ("May 2025", (2025, 5, None)),
    ]


def test_anaphora_count_from_the_last_date_given_not_the_article():
    text = "Le 4 novembre 2025, il a évoqué l'appel du mois précédent. La veille, rien."
    got = {w.text: w.value for w in resolve(text, "2026-01-15")}
    assert got["du mois précédent"] == (2025, 10, None)
    assert got["La veille"] == (2025, 11, 3)
    far = "Le 4 novembre 2025, rien. Une phrase. Une autre. La veille, encore."
    assert {w.text: w.value for w in resolve(far, "2026-01-15")}.get("La veille") is None


def test_what_cannot_be_resolved_is_left_out():
    undated = "Le Kremlin a indiqué dimanche ne pouvoir confirmer ou infirmer une information."
    assert resolve(undated, None) == []
    assert resolve("You may go. March on.", "2024-11-10") == []  # English verbs, not months
    assert [w.value for w in resolve("It happened in May.", "2024-11-10")] == [(2024, 5, None)]
    assert [w.text for w in resolve("Il a payé 12024,5 euros en 2024.", None)] == ["2024"]
    assert parse_base("2024-13") is None and parse_base("n/a") is None
    assert parse_base("2024-02-30") == ((2024, 2, None), "month")


def test_annotate_shows_only_dates_that_add_something():
    text = "Le 4 novembre, Trump a parlé de l'appel du mois précédent. Il a parlé jeudi."
    shown = annotate(text, marks(resolve(text, None)))
    assert (
        shown
        == "Le 4 novembre, Trump a parlé de l'appel du mois précédent (octobre). Il a parlé jeudi."
    )
    dated = "Cet entretien a eu lieu jeudi dernier, avant le 20 janvier."
    assert annotate(dated, marks(resolve(dated, "2024-11-10"))) == (
        "Cet entretien a eu lieu jeudi dernier (7 novembre 2024), avant le 20 janvier (lundi 20 janvier 2025)."
    )
    # what the article's date says already is not repeated: the prompt shows that date
    month = "Ce mercredi, Trump et Poutine ont parlé; en 2025 aussi; hier."
    assert annotate(month, marks(resolve(month, "2025-02"), date="2025-02")) == month
    assert annotate(month, marks(resolve(month, "2025-02"))) != month
    # marks counted in a longer text, applied to a piece of it; a mark off its words is skipped
    piece = dated[24:]
    assert annotate(piece, marks(resolve(dated, "2024-11-10")), offset=24).startswith(
        "jeudi dernier (7 novembre"
    )
    assert annotate("autre texte", [(0, 5, "jeudi", "7 novembre 2024")]) == "autre texte"
    assert label((2024, 11, 1), "day") == "vendredi 1er novembre 2024"
    assert label((2024, 11, 7), "day", "en") == "Thursday, November 7, 2024"
    assert label((None, 11, 4), "day") == "4 novembre"
    assert label((2024, 10, 28), "week") == "semaine du 28 octobre 2024"


def test_keys_and_what_a_question_asks_for():
    found = resolve("Le 4 novembre, l'appel du mois précédent; le 20 janvier.", "2024-11-10")
    assert keys(found, "2024-11-10") == ["2024", "2024-10", "2024-11", "2025", "2025-01"]
    assert keys(resolve("en octobre", None)) == ["-10"]
    assert keys(resolve("la semaine dernière", "2024-11-10")) == [
        "2024",
        "2024-10",
        "2024-11",
    ]  # 28 Oct-3 Nov
    assert asked_keys("l'appel de février 2025 ?") == {"2025-02", "-02"}
    assert asked_keys(
        "Combien de temps a duré l'appel d'octobre ?", {"2024-10", "2025-10", "2025", "-10"}
    ) == {"-10", "2024-10", "2025-10"}
    assert asked_keys("Qui a révélé l'appel qui a suivi l'élection de 2024 ?") == {"2024"}
    assert asked_keys("the October 2025 call") == {"2025-10", "-10"}
    assert (
        asked_keys("Qui a parlé à Poutine jeudi ?") == set()
    )  # a weekday with no date to count from


def test_dates_travel_from_ingest_through_the_store_to_the_prompt(settings):
    from rag.pipeline import RAG

    bot = RAG(settings)
    bot.ingest(progress=False)
    chunks = bot.retriever.chunks.values()
    call = next(c for c in chunks if "le mois précédent" in c.text)
    assert ("-10" in call.dated) and any(
        t[2:] == ("le mois précédent", "octobre") for t in call.times
    )
    stored = bot.retriever.store.collection.get(where={"dated": {"$contains": "-10"}}, include=[])[
        "ids"
    ]
    assert call.id in stored
    passages = bot.retrieve("Combien de temps a duré l'appel d'octobre entre Trump et Poutine ?")
    in_october = [p for p in passages if not {"-10", "2024-10", "2025-10"}.isdisjoint(p.dated)]
    assert in_october and {p.source for p in passages} == {
        p.source for p in in_october
    }  # their articles only
    assert any("le mois précédent (octobre)" in p.prompt_text for p in passages)
    assert all(
        p.text in open(settings.index.sources[0] / p.source, encoding="utf-8").read()
        for p in passages
    )


def test_a_re_ingest_drops_the_dates_a_document_no_longer_gives(settings, tmp_path):
    import shutil

    from rag.pipeline import RAG

    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(settings.index.sources[0] / "001_2b9e3b30e134a6cf.txt", folder / "a.txt")
    settings = settings.updated(sources=[folder])
    RAG(settings).ingest(progress=False)
    before = [c for c in RAG(settings).retriever.chunks.values() if c.times]
    assert before and all("2024-11" in c.dated for c in before)
    # the same article with no date and no time expression: Chroma's upsert merges metadata,
    # so the old marks and keys would stay unless they are deleted
    (folder / "a.txt").write_text(
        "Donald Trump a parlé avec Vladimir Poutine de l'Ukraine.", encoding="utf-8"
    )
    bot = RAG(settings)
    bot.ingest(progress=False)
    chunks = list(bot.retriever.chunks.values())
    assert chunks and all(c.times == () and c.dated == () and c.published is None for c in chunks)
    assert (
        bot.retriever.store.collection.get(where={"dated": {"$contains": "2024-11"}}, include=[])[
            "ids"
        ]
        == []
    )


def test_the_default_choose_reads_the_greedy_reply():
    from rag.testing.fakes import FakeLLM

    options = ["Le Post l'a révélé.", "Le Kremlin a démenti."]
    assert FakeLLM(choice=["Le Kremlin a démenti."]).choose([], options, "NONE") == {
        options[0]: 0.0,
        options[1]: 1.0,
        "NONE": 0.0,
    }
    # a reply cut short (8 tokens) still names the option it begins
    assert FakeLLM(choice=["Le Kremlin a"]).choose([], options)[options[1]] == 1.0
    assert FakeLLM(choice=["NONE"]).choose([], options, "NONE")["NONE"] == 1.0
    fake = FakeLLM(choice=["autre chose"])
    assert fake.choose([], options) == {options[0]: 0.0, options[1]: 0.0} and fake.tasks == [
        "choose"
    ]  # none
