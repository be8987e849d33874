"""SQuAD-style answer scores over strings: normalise (extended to French), then exact match,
token F1, and whether an accepted answer occurs as whole tokens. `rag.evaluation.metrics`
re-exports them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rag.text.normalize import ANY_MARKER, LIGATURES, fold

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


def contains_answer(prediction: str, answers: Sequence[str]) -> bool:
    """An answer occurs as whole tokens: ("Il a visité la Birmanie.", ["Birmanie"]) -> True."""
    pred = f" {normalize(prediction)} "
    # An answer that normalises to nothing (e.g. "un") would match everything, so it never matches.
    return any(norm and f" {norm} " in pred for norm in map(normalize, answers))
