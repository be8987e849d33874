"""The short answer: the few words of a cited sentence that answer the question ("Canard
enchaîné", "deux heures et demie"), chosen by the model with its decoding constrained to the
sentence's word spans (`LLM.choose`), so that it is verbatim by construction.

    spans(citation.quote)  # ["Le Canard", "Le Canard enchaîné", …, "Canard enchaîné", …]
    short = extract(llm, prompts_dir, question, quotes)

Written by hand: no library offers "the spans of a text" as constrained-decoding options; the
constraint itself is the generic `LLM.choose` walk (a trie over the options' tokens).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answer.checks import NO_ANSWER
from rag.answer.citations import asked_kinds
from rag.answer.prompts import render
from rag.answer.untrusted import without_orders
from rag.core.errors import ModelError
from rag.text.normalize import MARKER, fold
from rag.text.words import content_words

if TYPE_CHECKING:
    from rag.llm.base import LLM

MAX_WORDS = 20  # longer than nearly every gold short answer (docs/results/2026-12-07-codebase.md)
MAX_QUOTES = 3
EDGE = ",.;:!?«»()[]\"'“”’-–—…"
PAIRS = (("«", "»"), ("“", "”"), ("(", ")"), ("[", "]"))  # a span holds both of a pair, or neither
# A span does not end on these: "Canard enchaîné de" is never the answer.
ELISION = re.compile(r"^(?:[dlnsjcm]|qu|jusqu|lorsqu|puisqu)['’](?=\w)", re.IGNORECASE)
OPEN_ENDED = frozenset(
    (
        "de du des d' la le les l' à au aux et ou en un une que qu' qui dont par pour sur dans "
        "avec contre selon entre vers sans sous chez après avant m mme a an the of and or to in "
        "on at by for with from that"
    ).split()
)


def spans(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """The word spans of `text` worth offering: at most `max_words` words, punctuation trimmed at
    both ends, holding a content word, not ending on an article or preposition; each a verbatim
    substring of `text`, in reading order, each once. A span may also start after an elision
    ("une heure et demie" in "d'une heure et demie").

    spans("Le Canard enchaîné l'a révélé.")
    -> ["Le Canard", "Le Canard enchaîné", …, "Canard enchaîné", …]
    """
    words = text.split()
    out: dict[str, None] = {}
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + max_words) + 1):
            span = " ".join(words[i:j]).strip(EDGE).strip()
            last = span.split()[-1].lower().strip(EDGE) if span else ""
            if not span or last in OPEN_ENDED or span.endswith(("'", "’")) or not _worth(span):
                continue
            if not _paired(span):
                continue
            out.setdefault(span, None)
            elided = ELISION.match(span)
            if elided and len(span) > elided.end():
                out.setdefault(span[elided.end() :], None)
    return list(out)


def _worth(span: str) -> bool:
    """It holds a content word, or an acronym ("AFP" in "l'AFP", "UE")."""
    return bool(content_words(span)) or any(
        len(w) >= 2 and w.isupper() for w in (ELISION.sub("", w).strip(EDGE) for w in span.split())
    )


def _paired(span: str) -> bool:
    """Every quote mark or bracket it opens it closes, in order ("« non »", not "non » … «")."""
    for a, b in PAIRS:
        depth = 0
        for c in span:
            depth += (c == a) - (c == b)
            if depth < 0:
                return False
        if depth:
            return False
    return span.count('"') % 2 == 0


def options(quotes: Sequence[str]) -> dict[str, str]:
    """What the model may write -> the span it stands for: each span, and each span that starts in
    lower case also capitalised ("Le Canard enchaîné" -> "le Canard enchaîné"), since the model
    starts its reply with a capital (without it, "Le" leads the walk into "Le 10 novembre")."""
    out: dict[str, str] = {}
    for quote in quotes:
        for span in spans(quote):
            out.setdefault(span, span)
            out.setdefault(span[0].upper() + span[1:], span)
    return out


def short_messages(prompts_dir: Path, question: str, quotes: Sequence[str]) -> list[dict]:
    user = render(
        prompts_dir,
        "short",
        question=question,
        passage="\n".join(without_orders(q) for q in quotes),
    )
    return [
        {"role": "system", "content": render(prompts_dir, "system.short")},
        {"role": "user", "content": user},
    ]


def focus(offered: dict[str, str], question: str, answer: str = "") -> dict[str, str]:
    """The options worth choosing among: not those that only repeat the question's words; where
    some occur in the full answer the model wrote, only those (so the short answer agrees with
    it); then those of the kind the question asks for (`citations.asked_kinds`: "Combien …" a
    number, "Quel jour …" a date, "Combien de temps …" a duration). Each narrowing applies only
    when it leaves something.

    focus(options(["Ils ont parlé une heure et demie mercredi."]), "Quel jour ont-ils parlé ?")
    -> only the spans holding "mercredi"
    """
    asked = content_words(question)
    new = {o: s for o, s in offered.items() if content_words(s) - asked}
    offered = new or offered
    said = f" {fold(MARKER.sub(' ', answer))} "
    agreed = {o: s for o, s in offered.items() if answer and f" {fold(s)} " in said}
    offered = agreed or offered
    kinds = [needed for _, needed in asked_kinds(question)]
    of_kind = {o: s for o, s in offered.items() if all(re.search(k, fold(s)) for k in kinds)}
    return of_kind or offered


@dataclass(frozen=True)
class Pick:
    """The short answer and the model's probabilities: of it (its path under the constrained
    walk) and of NO_ANSWER as the reply; None where the backend gives none (no options, or the
    model failed)."""

    text: str
    chosen: float | None = None
    no_answer: float | None = None


def pick(
    llm: LLM, prompts_dir: Path, question: str, quotes: Sequence[str], answer: str = ""
) -> Pick:
    """The short answer to `question` from the cited sentences (`quotes`), "" when there is
    none to choose from or the model fails (the full answer stands without it). `answer`: the
    full answer, whose words narrow the options (`focus`)."""
    quotes = list(dict.fromkeys(q for q in quotes if q.strip()))[:MAX_QUOTES]
    offered = focus(options(quotes), question, answer)
    if not offered:
        return Pick("")
    try:
        probs = llm.choose(short_messages(prompts_dir, question, quotes), list(offered), NO_ANSWER)
    except ModelError:
        return Pick("")
    best = max(offered, key=lambda o: probs.get(o, 0.0))
    chosen = probs.get(best, 0.0)
    text = offered[best] if chosen > 0 else ""  # 0: the reply was no option
    return Pick(text, chosen, probs.get(NO_ANSWER))


def extract(
    llm: LLM, prompts_dir: Path, question: str, quotes: Sequence[str], answer: str = ""
) -> str:
    """`pick`'s short answer alone."""
    return pick(llm, prompts_dir, question, quotes, answer).text
