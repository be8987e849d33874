"""A weekday question ("Quel jour de la semaine … ?") whose draft gives no weekday, answered
again by choosing among the weekdays the passages write, each with its passage number.

This model answers such questions with the date that the passages resolve the weekday to
("jeudi dernier (7 novembre 2024)" -> "Le 7 novembre 2024"), which the asked-kind check then
withholds. Asked again with its reply constrained (`LLM.choose`) to the passages' own weekday
expressions ("Jeudi dernier [1]", "Mercredi [3]"), it picks the day and the passage together,
and the answer is verbatim by construction; "NO_ANSWER" is measured beside them and wins when
the model prefers it. The prompt is the answer's own, so the prompt cache makes it a few
decode steps (rag.llm.transformers.prompt_cache).

Written by hand: no library turns a text's weekday mentions into constrained-decoding options.
"""

from __future__ import annotations

import re

from rag.answer.checks import NO_ANSWER
from rag.answer.citations import WEEKDAY, asked_kinds
from rag.answer.untrusted import without_orders
from rag.core.errors import ModelError
from rag.core.types import Passage
from rag.text.calendar import DAYS
from rag.text.normalize import MARKER, fold

MENTION = re.compile(
    rf"\b(?:(?:ce|this|last|next|on)\s+)?(?:{'|'.join(DAYS.split())})(?:\s+(?:dernier|prochain|soir|matin))?\b",
    re.IGNORECASE,
)
NAMED = re.compile(rf"\b(?:{'|'.join(DAYS.split())})\b")


def options(passages: list[Passage]) -> dict[str, int]:
    """Each weekday expression the passages write, capitalised, with its passage's number, as
    the model would reply ("Jeudi dernier [1]") -> that number; in prompt order, each once."""
    out: dict[str, int] = {}
    for number, p in enumerate(passages, 1):
        for m in MENTION.finditer(without_orders(p.prompt_text)):
            said = " ".join(m.group(0).split())
            out.setdefault(f"{said[0].upper()}{said[1:]} [{number}]", number)
    return out


def needs_choice(question: str, draft: str) -> bool:
    """The question asks for a weekday and the draft, not a refusal, names none."""
    asked = any(kind == WEEKDAY for kind, _ in asked_kinds(question))
    text = fold(MARKER.sub(" ", draft))
    return asked and NO_ANSWER not in draft.upper().replace(" ", "_") and not NAMED.search(text)


def choose(llm, messages: list[dict], passages: list[Passage]) -> str | None:
    """The weekday answer the model prefers ("Jeudi dernier [1]"), or None: no weekday in the
    passages, the model prefers NO_ANSWER, or it failed."""
    offered = options(passages)
    if not offered:
        return None
    try:
        probs = llm.choose(messages, list(offered), NO_ANSWER)
    except ModelError:
        return None
    best = max(offered, key=lambda o: probs.get(o, 0.0))
    return best if probs.get(best, 0.0) > probs.get(NO_ANSWER, 0.0) else None
