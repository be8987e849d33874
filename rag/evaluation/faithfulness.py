"""Faithfulness: is each answer sentence supported by the passages it cites?

Word-overlap checks with the helpers of `rag.text.words` and `rag.answer.citations` (the same ones
that gate the answers, so on a set the gate was fitted to this mostly measures the gate against
itself; validated against hand labels with `rag eval faithfulness-check`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rag.answer.citations import key_words, normalize_markers, novel_words
from rag.text.language import detect
from rag.text.normalize import MARKER
from rag.text.numbers import unsupported_numbers
from rag.text.sentences import sentences
from rag.text.words import content_words, support

# A sentence is supported when at least this share of what it adds is in its cited passages.
SUPPORTED_SHARE = 0.6


def sentence_verdict(
    sentence: str, passages: Sequence[str], question: str = ""
) -> tuple[bool | None, str]:
    """Is one answer sentence supported by the passages? (verdict, reason); None: nothing to check.

    Unsupported when it has a number none of the passages (nor the question) contains, or when
    less than SUPPORTED_SHARE of its new words (content words not restating the question) are in
    the passages. An English sentence over French passages is checked on its names and numbers
    only (`key_words`), since its other words are translations.
    ("Le Canard enchaîné [1].", ["Le Canard enchaîné a rapporté les faits"], "Qui ?") -> (True, …)
    """
    claim = MARKER.sub(" ", normalize_markers(sentence))  # "(1)" is a marker, not the number 1
    if not content_words(claim):
        return None, "no content words"
    numbers = unsupported_numbers(claim, list(passages), question)
    if numbers:
        return False, f"number {', '.join(sorted(numbers))} not in the cited passages"
    cross_lingual = detect(claim) == "en" and detect(" ".join(passages)) != "en"
    words = key_words(claim, question, "en") if cross_lingual else novel_words(claim, question)
    if not words:
        if cross_lingual:
            return True, "no new names or numbers to check (English over French passages)"
        words = content_words(claim)  # it only restates the question: are those words there?
    share = support(" ".join(sorted(words)), list(passages))
    missing = sorted(w for w in words if support(w, list(passages)) == 0)
    reason = f"{share:.0%} of its new words in the cited passages"
    return share >= SUPPORTED_SHARE, reason + (
        f" (missing: {', '.join(missing[:4])})" if missing else ""
    )


def faithfulness(answer: str, passages: Sequence[str], question: str = "") -> float | None:
    """Share of the answer's sentences that its cited passages support (see `sentence_verdict`).

    ("Paris [1]. Lyon [1].", ["Il vit à Paris."]) -> 0.5; no passage or nothing to check -> None.
    """
    if not passages:
        return None
    verdicts = [sentence_verdict(s, passages, question)[0] for s in sentences(answer)]
    checked = [v for v in verdicts if v is not None]
    return sum(checked) / len(checked) if checked else None


def cited_passages(result: Mapping[str, Any]) -> list[str]:
    """The texts of the passages a result line's citations point at (distinct, in order)."""
    return list(
        dict.fromkeys(c["passage"] for c in result.get("citations") or [] if c.get("passage"))
    )


def faithfulness_metrics(answered: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean faithfulness of the given answers whose result lines carry the cited passages."""
    found = [
        faithfulness(r["answer"], cited_passages(r), r.get("question") or "")
        for r in answered
        if not r["abstained"]
    ]
    scores = [s for s in found if s is not None]
    return {
        "faithfulness": sum(scores) / len(scores) if scores else None,
        "faithfulness_cases": len(scores),
    }
