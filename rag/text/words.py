"""Content words and how much of one text another holds: the word-overlap measure that the
checks, the citation repair and retrieval's passage trimming share.
"""

from __future__ import annotations

import itertools

from rag.text.normalize import MARKER, fold
from rag.text.timeline import DAY_NAMES_EN, DAY_NAMES_FR, MONTH_EN, MONTH_FR

STOP = set(
    (
        "les des une dans pour par sur avec qui que est sont ont ete aux elle ils leur lors selon "
        "entre apres avant pas son ses cette ces the and with from that this was were has have "
        "had their his her its for are about which who what when where how did does also aurait "
        "avait a ete president according during however there these those while although because "
        "since then after before they yes"
    ).split()
)
NUMBER_WORDS = {
    "deux": "2",
    "two": "2",
    "trois": "3",
    "three": "3",
    "quatre": "4",
    "four": "4",
    "cinq": "5",
    "five": "5",
    "six": "6",
    "sept": "7",
    "seven": "7",
    "huit": "8",
    "eight": "8",
    "nine": "9",
    "dix": "10",
    "ten": "10",
    "onze": "11",
    "eleven": "11",
    "douze": "12",
    "twelve": "12",
    "quinze": "15",
    "fifteen": "15",
    "vingt": "20",
    "twenty": "20",
    "trente": "30",
    "thirty": "30",
    "quarante": "40",
    "forty": "40",
    "cinquante": "50",
    "fifty": "50",
    "soixante": "60",
    "sixty": "60",
    "cent": "100",
    "hundred": "100",
    "mille": "1000",
    "thousand": "1000",
}
# English weekday and month names as the French ones, as number words become digits: an English
# answer over French passages says "Wednesday" where they say "mercredi".
CALENDAR_FR = {
    fold(en): fold(fr)
    for en, fr in zip(DAY_NAMES_EN + MONTH_EN, DAY_NAMES_FR + MONTH_FR, strict=True)
}
ONE = {"un": "1", "une": "1", "one": "1", "a": "1", "an": "1"}  # "une heure", "an hour", "a day"
UNITS = {
    "jour": "day",
    "jours": "day",
    "day": "day",
    "days": "day",
    "heure": "hour",
    "heures": "hour",
    "hour": "hour",
    "hours": "hour",
    "minute": "minute",
    "minutes": "minute",
    "semaine": "week",
    "semaines": "week",
    "week": "week",
    "weeks": "week",
    "mois": "month",
    "month": "month",
    "months": "month",
    "an": "year",
    "ans": "year",
    "annee": "year",
    "annees": "year",
    "year": "year",
    "years": "year",
}


def content_words(text: str) -> set[str]:
    """Folded words that carry facts: numbers (number words as digits: "dix" -> "10") and words
    of 4+ letters that are not stopwords; English weekdays and months in French ("wednesday" ->
    "mercredi")."""
    words = [
        NUMBER_WORDS.get(w) or CALENDAR_FR.get(w, w) for w in fold(MARKER.sub(" ", text)).split()
    ]
    return {w for w in words if w.isdigit() or (len(w) >= 4 and w not in STOP)}


def matches(word: str, vocabulary: set[str]) -> bool:
    """Exact for numbers; a shared 5-letter stem for words (négocier / négociations)."""
    if word.isdigit():
        return word in vocabulary
    return any(
        v[:5] == word[:5]
        or (len(v) >= 4 and word.startswith(v))
        or (len(word) >= 4 and v.startswith(word))
        for v in vocabulary
        if not v.isdigit()
    )


def support(answer: str, texts: list[str], question: str = "") -> float:
    """Share of the answer's content words found in `texts` (or restated from the question).

    support("Le Washington Post [1]", ["le Washington Post a rapporté"]) -> 1.0
    """
    words = content_words(answer)
    if not words:
        return 0.0
    vocabulary = content_words(" ".join(texts)) | content_words(question)
    return sum(matches(w, vocabulary) for w in words) / len(words)


def key_support(key: set[str], texts: list[str]) -> float:
    """Share of the `key_words` found in `texts` (1.0: the texts hold all of them)."""
    return support(" ".join(sorted(key)), texts)


def quantities(text: str) -> set[str]:
    """ "number unit" pairs of durations: "Il a parlé deux heures" -> {"2 hour"};
    "une heure et demie" and "1 heure et demie" -> {"1 hour"}."""
    words = [ONE.get(w) or NUMBER_WORDS.get(w, w) for w in fold(MARKER.sub(" ", text)).split()]
    return {f"{n} {UNITS[u]}" for n, u in itertools.pairwise(words) if n.isdigit() and u in UNITS}
