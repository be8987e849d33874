"""Evidence first: the sentences of the retrieved passages, for the model to copy the one that
states the answer, its decoding constrained to those sentences (`LLM.choose`), so that the
quote is verbatim by construction; "NONE" is measured beside them as the model's probability
that no sentence states it.

    found = candidates(passages)  # [Sentence(passage 0, "…"), …]
    messages = choice_messages(prompts_dir, question, passages)
    probs = llm.choose(messages, [s.text for s in found], NONE)

Measured, not yet the answer path: benchmarks/evidence_choice.py
(docs/results/2026-12-03-event-dates.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.answer.prompts import passage_blocks, render
from rag.answer.untrusted import without_orders
from rag.core.types import Passage
from rag.text.sentences import sentences

NONE = "NONE"


@dataclass(frozen=True)
class Sentence:
    passage: int  # index in the passages
    text: str  # as the model sees it (dates resolved)


def candidates(passages: list[Passage]) -> list[Sentence]:
    """The passages' sentences in order, each once (overlapping chunks repeat some)."""
    seen: dict[str, Sentence] = {}
    for i, p in enumerate(passages):
        for text in sentences(without_orders(p.prompt_text)):
            seen.setdefault(text, Sentence(i, text))
    return list(seen.values())


def choice_messages(prompts_dir: Path, question: str, passages: list[Passage]) -> list[dict]:
    system = render(prompts_dir, "system.choose")
    user = render(prompts_dir, "choose", passages=passage_blocks(passages), question=question)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
