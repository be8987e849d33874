"""A weekday question ("Quel jour de la semaine … ?") whose draft gives no weekday, answered
again by choosing among the weekdays of the passages' sentences closest to the question.

This model answers such questions with the date that the passages resolve the weekday to
("jeudi dernier (7 novembre 2024)" -> "Le 7 novembre 2024"), which the asked-kind check then
withholds. Evidence first: the sentences that name a weekday are ranked by the embedder
(the retriever's own, question against sentence), and the model, asked again with its reply
constrained (`LLM.choose`) to the weekday expressions of the best `SENTENCES` of them, each with
its passage number ("Jeudi dernier [1]", "Mercredi [3]"), picks the day and the passage
together; the answer is verbatim by construction. "NO_ANSWER" is measured beside them and wins
when the model prefers it. The prompt is the answer's own: one more prefill after the system
turn, as only the system turn's cache is reused by default (rag.llm.transformers.prompt_cache).
Why the nearest sentences and not every weekday of the passages:
docs/results/2026-12-06-same-answer.md.

Written by hand: no library turns a text's weekday mentions into constrained-decoding options.
"""

from __future__ import annotations

import re

from rag.answer.checks import NO_ANSWER, refuses
from rag.answer.citations import WEEKDAY, missing_kind
from rag.answer.untrusted import without_orders
from rag.core.errors import ModelError
from rag.core.types import Passage
from rag.text.calendar import DAYS
from rag.text.sentences import sentences

MENTION = re.compile(
    rf"\b(?:(?:ce|this|last|next|on)\s+)?(?:{'|'.join(DAYS.split())})(?:\s+(?:dernier|prochain|soir|matin))?\b",
    re.IGNORECASE,
)


SENTENCES = 2  # the weekday sentences closest to the question whose weekdays are offered


def options(passages: list[Passage], question: str = "", embedder=None) -> dict[str, int]:
    """The weekday expressions of the passages' sentences, capitalised, with the passage's
    number, as the model would reply ("Jeudi dernier [1]") -> that number; with an `embedder`,
    only those of the `SENTENCES` sentences closest to `question`. Each once."""
    found = [
        (number, text, [" ".join(m.group(0).split()) for m in MENTION.finditer(text)])
        for number, p in enumerate(passages, 1)
        for text in sentences(without_orders(p.prompt_text))
    ]
    found = [f for f in found if f[2]]
    if embedder is not None and len(found) > SENTENCES:
        scores = embedder.passages([text for _, text, _ in found]) @ embedder.query(question)
        best = sorted(range(len(found)), key=lambda i: -float(scores[i]))[:SENTENCES]
        found = [found[i] for i in sorted(best)]
    return {
        f"{said[0].upper()}{said[1:]} [{number}]": number
        for number, _, said_all in found
        for said in said_all
    }


def needs_choice(question: str, draft: str) -> bool:
    """The question asks for a weekday and the draft, neither empty nor a refusal, names none
    (the asked-kind check would withhold it)."""
    return not refuses(draft.strip()) and missing_kind(draft, question) == WEEKDAY


def choose(
    llm, messages: list[dict], passages: list[Passage], question: str = "", embedder=None
) -> str | None:
    """The weekday answer the model prefers ("Jeudi dernier [1]") among `options`, or None: no
    weekday in the passages, the model prefers NO_ANSWER, or it failed."""
    offered = options(passages, question, embedder)
    if not offered:
        return None
    try:
        probs = llm.choose(messages, list(offered), NO_ANSWER)
    except ModelError:
        return None
    best = max(offered, key=lambda o: probs.get(o, 0.0))
    return best if probs.get(best, 0.0) > probs.get(NO_ANSWER, 0.0) else None
