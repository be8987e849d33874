"""Content words and how much of one text another holds: the word-overlap measure that the
checks, the citation repair and retrieval's passage trimming share.
"""

from __future__ import annotations

import re

from rag.text.normalize import MARKER, fold
from rag.text.numbers import number_value, number_words
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
# Number words as digits ("seize" -> "16"), from the one table (rag.text.numbers)
NUMBER_WORDS = {w: str(int(number_value(w) or 0)) for w in number_words()}
# English weekday and month names as the French ones, as number words become digits: an English
# answer over French passages says "Wednesday" where they say "mercredi".
CALENDAR_FR = {
    fold(en): fold(fr)
    for en, fr in zip(DAY_NAMES_EN + MONTH_EN, DAY_NAMES_FR + MONTH_FR, strict=True)
}


def content_words(text: str) -> set[str]:
    """Folded words that carry facts: numbers (number words as digits: "dix" -> "10") and words
    of 4+ letters that are not stopwords; English weekdays and months in French ("wednesday" ->
    "mercredi")."""
    words = [
        NUMBER_WORDS.get(w) or CALENDAR_FR.get(w, w) for w in fold(MARKER.sub(" ", text)).split()
    ]
    return {w for w in words if w.isdigit() or _code(w) or (len(w) >= 4 and w not in STOP)}


def _code(word: str) -> bool:
    """A name made of letters and digits ("2f", "a380", "g20"), not an ordinal ("1er", "3e")."""
    return (
        any(c.isdigit() for c in word)
        and any(c.isalpha() for c in word)
        and not re.fullmatch(r"\d+(?:er|re|e|eme|nd|nde|st|nd|rd|th|h|s)", word)
    )


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

    support("Le Canard enchaîné [1]", ["le Canard enchaîné a révélé"]) -> 1.0
    """
    words = content_words(answer)
    if not words:
        return 0.0
    vocabulary = content_words(" ".join(texts)) | content_words(question)
    return sum(matches(w, vocabulary) for w in words) / len(words)


def key_support(key: set[str], texts: list[str]) -> float:
    """Share of the `key_words` found in `texts` (1.0: the texts hold all of them)."""
    return support(" ".join(sorted(key)), texts)
