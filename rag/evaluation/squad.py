"""SQuAD-style answer scores over strings: normalise (extended to French), then exact match,
token F1, and whether an accepted answer occurs as whole tokens. `rag.evaluation.metrics`
re-exports them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rag.text.normalize import ANY_MARKER, LIGATURES, fold
from rag.text.numbers import mentions, number_value

# French articles and their elided forms ("l'", "d'" become "l", "d" once punctuation is a space),
# as in the French SQuAD-style scripts, plus the English ones. Dropping "de"/"d" also drops the
# preposition; that is harmless because prediction and answer are normalised alike. After accent
# stripping "à" becomes "a" and is dropped too, with the English article.
FRENCH_ARTICLES = frozenset({"le", "la", "les", "l", "un", "une", "des", "du", "de", "d"})
ARTICLES = FRENCH_ARTICLES | {"a", "an", "the"}


def normalize(text: str) -> str:
    """`fold` without citation markers, ligatures or articles: "L'Élysée [1]" -> "elysee"."""
    folded = fold(ANY_MARKER.sub(" ", text).lower().translate(LIGATURES).replace("_", " "))
    return " ".join(t for t in folded.split() if t not in ARTICLES)


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised texts are equal: ("la Seine", ["Seine", "Paris"]) -> 1.0."""
    pred = normalize(prediction)
    return max((float(pred == normalize(a)) for a in answers), default=0.0)


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        # SQuAD v2 convention: two empty strings agree, an empty and a non-empty one do not.
        return float(pred_tokens == gold_tokens)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best SQuAD token F1 over the answers: ("Emmanuel Macron", ["Macron"]) -> 0.667."""
    pred = normalize(prediction).split()
    return max((_f1(pred, normalize(a).split()) for a in answers), default=0.0)


def _in_digits(text: str) -> str:
    """A normalised text with its numbers written in words put in digits: "cinq ans" -> "5 ans".

    Each number is read alone ("deux heures et demie" -> "2 heures et demie"), with the one
    number-word table of `rag.text.numbers`.
    """
    padded = f" {text} "
    for found in sorted(mentions(text), key=lambda m: -len(m.text)):
        value = number_value(found.text)
        if value is None or not any(c.isalpha() for c in found.text):
            continue
        digits = str(int(value)) if value == int(value) else str(value)
        padded = padded.replace(f" {found.text} ", f" {digits} ")
    return padded.strip()


def contains_answer(prediction: str, answers: Sequence[str]) -> bool:
    """An answer occurs as whole tokens, its numbers in words or digits alike:
    ("Il a visité la Birmanie.", ["Birmanie"]) -> True, ("Il a 5 ans.", ["cinq ans"]) -> True.

    Only this grading reads number words; `exact_match` and `token_f1` stay SQuAD's.
    """
    pred = normalize(prediction)
    norms = [n for n in map(normalize, answers) if n]
    # An answer that normalises to nothing (e.g. "un") would match everything, so it never matches.
    if any(f" {n} " in f" {pred} " for n in norms):
        return True
    digits = f" {_in_digits(pred)} "
    return any(f" {d} " in digits for d in map(_in_digits, norms) if d)
