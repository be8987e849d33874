"""The one number-word table, its parser, and numbers checked with their nouns (rag.text.numbers).

The sentences of the last table are real ones of ../shared/data/wikinews-fr/articles.jsonl (their
article ids in comments).
"""

import pytest

from rag.text.numbers import Mention, counted, mentions, number_value, unsupported_numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("seize", 16),
        ("sixteen", 16),
        ("douze", 12),
        ("twelve", 12),
        ("deux cent cinquante", 250),
        ("two hundred and fifty", 250),
        ("quatre-vingt-dix-sept", 97),
        ("soixante et onze", 71),
        ("vingt et un", 21),
        ("twenty-one", 21),
        ("mille neuf cent quatre-vingt-dix", 1990),
        ("deux millions cinq cent mille", 2_500_000),
        ("1,5 million", 1_500_000),
        ("1.5 million", 1_500_000),
        ("6 milliards", 6_000_000_000),
        ("six billion", 6_000_000_000),
        ("45 000", 45_000),
        ("45\u202f000", 45_000),
        ("1,500", 1500),
        ("2,25", 2.25),
        ("une douzaine", 12),
        ("deux douzaines", 24),
        ("a dozen", 12),
        ("une centaine", 100),
        ("une heure et demie", 1.5),
        ("an hour and a half", 1.5),
        ("deux heures et demie", 2.5),
        ("two and a half hours", 2.5),
        ("une demi-heure", 0.5),
        ("half an hour", 0.5),
        ("2024", 2024),
        ("un appel", None),  # an article is no count
        ("a call", None),
    ],
)
def test_number_value(text, value):
    assert number_value(text) == value


def test_mentions_keep_the_words_after_each_number():
    found = mentions("Le 20 janvier 2025, seize missiles ont été tirés. Deux trois choses.")
    assert [(m.value, m.nouns[:1]) for m in found] == [
        (20, ("janvier",)),
        (2025, ()),
        (16, ("missiles",)),
        (2, ()),  # "deux trois" is two numbers, not five
        (3, ("choses",)),
    ]


@pytest.mark.parametrize(
    ("question", "nouns"),
    [
        ("How many people were killed?", ("people",)),
        ("Combien de missiles Tomahawk ?", ("missiles",)),
        ("Qui a gagné ?", ()),
    ],
)
def test_counted(question, nouns):
    assert counted(question) == nouns


@pytest.mark.parametrize(
    ("answer", "passage", "question", "missing"),
    [
        # right number, right noun (digits or words, either side)
        ("38 personnes sont mortes [1].", "wn-2016_02_06-002", "", set()),
        ("Il y a eu 3 blessés [1].", "wn-2016_01_01-001", "", set()),
        ("Deux morts [1].", "wn-2016_02_10-001", "", set()),
        ("2 morts et 4 blessés [1].", "wn-2016_02_10-001", "", set()),
        ("quatre morts [1]", "wn-2016_06_05-002", "Combien de morts ?", set()),
        ("24 blessés [1]", "wn-2016_06_05-002", "", set()),  # "vingt-quatre blessés"
        ("36 [1]", "wn-2016_06_28-002", "Combien de morts le bilan compte-t-il ?", set()),
        ("Five people died [1].", "wn-2016_04_04-001", "", set()),  # "Les cinq personnes"
        ("Karimov est mort six jours après [1].", "wn-2016_09_02-002", "", set()),
        ("9 dead and 49 injured [1]", "wn-2016_04_15-002", "", set()),
        # right number, wrong noun
        ("36 blessés [1].", "wn-2016_06_28-002", "", {"36 blesses"}),
        ("38 [1]", "wn-2016_02_06-002", "Combien de blessés ?", {"38"}),
        ("90 [1]", "wn-2016_03_11-001", "Combien de disques a-t-il produits ?", {"90"}),
        ("12 people [1]", "wn-2016_08_04-002", "", {"12 people"}),  # "12 mètres"
        ("10 [1].", "wn-2016_06_12-011", "How many people were killed?", {"10"}),
        ("Ils bloquent l'usine depuis 10 semaines [1].", "wn-2016_06_12-011", "", {"10 semaines"}),
        # a number no passage has
        ("400 morts [1]", "wn-2016_02_06-002", "", {"400 morts"}),
    ],
)
def test_numbers_are_checked_with_their_nouns(answer, passage, question, missing):
    assert unsupported_numbers(answer, [SENTENCES[passage]], question) == missing


SENTENCES = {  # wikinews-fr-<id>
    "wn-2016_01_01-001": "Il y a eu trois blessés (un militaire, un fidèle et l'agresseur) et "
    "l'homme, touché à un bras et à une jambe, a été hospitalisé et opéré.",
    "wn-2016_02_06-002": "Un dernier bilan indique qu'au moins 38 personnes seraient mortes et "
    "400 seraient blessées.",
    "wn-2016_02_10-001": "Deux morts et quatre blessés ont été dénombrés lors d'un accident de car "
    "scolaire survenu sur la commune de Montbenoît ( Doubs ) ce matin vers 7h39 (heure locale).",
    "wn-2016_03_11-001": "Le producteur britannique George Martin , qui a notamment produit les "
    "Beatles , est mort mardi à l'âge de 90 ans.",
    "wn-2016_04_04-001": "Les cinq personnes qui prenaient place dans l'appareil sont mortes après "
    "que ce dernier a pris feu.",
    "wn-2016_04_15-002": "Les tremblements de terre ont eu lieu sur l'île de Kyushu à 8,3 "
    "kilomètres au nord-ouest de Kumamoto , faisant au moins 9 morts et 49 blessés.",
    "wn-2016_06_05-002": "Ces inondations ont fait quatre morts, dont une octogénaire, et "
    "vingt-quatre blessés.",
    "wn-2016_06_12-011": "À titre d'exemple, l’usine d’ Ivry-sur-Seine , la plus importante en "
    "Ile-de-France, est bloquée depuis dix jours par des éboueurs et des agents de la Ville de "
    "Paris.",
    "wn-2016_06_28-002": "Le bilan provisoire fait état de 36 morts et 147 blessés.",
    "wn-2016_08_04-002": "Vérifié par le scientifique Sebastian Apesteguia, il s'agit d'une "
    "empreinte du carnivore Abelisaurus , un dinosaure peu connu vivant il y a 70 millions "
    "d'années, pouvant atteindre 12 mètres de haut.",
    "wn-2016_09_02-002": "Le gouvernement ouzbek a confirmé en fin de journée la mort de Islom "
    "Karimov , au pouvoir depuis 1989, six jours après son hospitalisation pour une hémorragie "
    "cérébrale.",
}


@pytest.mark.parametrize(
    ("answer", "passage", "missing"),
    [
        ("It planned to spend $6 billion on Ukraine [1].", "six milliards de dollars", set()),
        (
            "It planned to spend 6 billion euros [1].",
            "six milliards de dollars",
            {"6 billion euros"},
        ),
        ("Le 10 novembre 2024 a eu lieu l'appel [1].", "Le 10 novembre 2024, le Post", set()),
        ("2024 missiles [1]", "Le 10 novembre 2024, le Post", {"2024 missiles"}),
        ("Il est parti depuis 10 ans [1].", "Il a 10 ans.", set()),
    ],
)
def test_currency_signs_and_years(answer, passage, missing):
    assert unsupported_numbers(answer, [passage]) == missing


@pytest.mark.parametrize(
    ("answer", "passage", "question", "missing"),
    [
        # the noun before the number, in its sentence (Wikinews, 8 and 10 December 2018)
        (
            "282 000 manifestants [1]",
            "À l'apogée des manifestations, vers 17 h heure locale, le nombre de manifestants "
            "s'est élevé à 282 000 environ.",
            "Combien de manifestants les gilets jaunes ont-ils compté ?",
            set(),
        ),
        (
            "374 stations-service étaient en pénurie totale [1].",
            "Ce lundi, 584 stations-service sont en rupture partielle de carburant, et 374 en "
            "pénurie totale.",
            "",
            set(),
        ),
        # a noun before the number that counts something else does not support it
        (
            "10 personnes ont été tuées [1].",
            "Le conflit a fait 300 morts depuis 10 ans.",
            "Combien de personnes ont été tuées ?",
            {"10 personnes ete tuees"},
        ),
        # nor the noun of another sentence
        (
            "282 000 manifestants [1]",
            "Les manifestants étaient nombreux. Le budget s'est élevé à 282 000 euros.",
            "",
            {"282 000 manifestants"},
        ),
    ],
)
def test_a_number_is_supported_by_its_noun_before_it_in_the_sentence(
    answer, passage, question, missing
):
    assert unsupported_numbers(answer, [passage], question) == missing


@pytest.mark.parametrize(
    ("answer", "passage", "question", "missing"),
    [
        # a range's first end counts what its last end counts (PIAF)
        (
            "2 à 7 fleurs peuvent fleurir au bout des pédoncules [1].",
            "sont regroupées en cyme contractée ombelliforme pauciflore (2 à 7 fleurs).",
            "Combien de fleurs peuvent fleurir au bout des pédoncules ?",
            set(),
        ),
        ("From 3 to 5 people were hurt [1].", "Police said 3 to 5 people were hurt.", "", set()),
        ("De 3 à 5 blessés [1].", "Il y a eu 3 morts et 5 blessés.", "", {"3 blesses"}),
        # a number with no noun after it, named by the same words before it (PIAF)
        (
            "Il y a 1 800 candidats pour le futur groupe d'astronautes 3 [2].",
            "il est accepté dans le groupe initial de 1 800 candidats pour le futur groupe "
            "d'astronautes 3,. À la fin de sa tournée navale",
            "Combien de personnes il y a-t-il dans le groupe initial ?",
            set(),
        ),
        # other words before it do not support it as the count asked for
        ("Le bilan est de 3 [1].", "Lire le chapitre 3 du rapport.", "Combien de morts ?", {"3"}),
    ],
)
def test_ranges_and_numbers_named_before_them(answer, passage, question, missing):
    assert unsupported_numbers(answer, [passage], question) == missing


def test_range_words_come_from_the_lexicon():
    assert mentions("de deux à sept fleurs") == [
        Mention(2.0, "deux", ("fleurs",)),
        Mention(7.0, "sept", ("fleurs",)),
    ]
    assert mentions("2 or 3 children")[0].nouns == ("children",)
    assert mentions("en 2016 et 2017 morts")[0].nouns == ()  # "et" joins no range: a list


def test_digits_of_other_scripts_are_no_numbers_and_no_crash():
    # str.isdigit() holds for "፩", float() does not read it (found by tests/test_fuzz.py)
    assert mentions("፩ missiles") == []
    assert unsupported_numbers("12 missiles [1]", ["12 missiles"], "Combien ፩ ?") == set()
