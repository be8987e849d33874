"""Fakes for tests and demos: a generation backend without a model (`RAG_LLM=fake`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from rag.llm.base import LLM, Message


class FakeLLM(LLM):
    """A model-free backend for tests and demos.

    `script` decides each reply: a callable (it gets the messages and returns the full reply), a
    list of replies given one per call in order (an error when it runs out), or None: then it
    answers extractively, copying the first sentence of passage [1] of the prompt with its
    citation, so the checks have real work to do. Verification requests ("does the passage
    state this answer?") are judged by word overlap, not by the script; `calls` records every
    request.
    """

    name = "fake"

    def __init__(self, script: Callable[[list[Message]], str] | Sequence[str] | None = None) -> None:
        self.script = script if script is None or callable(script) else _in_turn(list(script))
        self.calls: list[list[Message]] = []

    def stream(self, messages: list[Message], max_new_tokens: int = 160) -> Iterator[str]:
        self.calls.append(messages)
        if VERIFY_MARK in messages[-1]["content"]:
            reply = _verdict(messages[-1]["content"])
        else:
            reply = self.script(messages) if self.script else _extractive_reply(messages)
        for piece in re.findall(r"\S+\s*", reply):
            yield piece


VERIFY_MARK = "Reply with one word: YES or NO"


def _verdict(prompt: str) -> str:
    """YES when most of the proposed answer's words are in the passage."""
    from rag.text.words import support

    passage = prompt.split("Passage:", 1)[-1].split("Question:", 1)[0]
    answer = prompt.split("Proposed answer:", 1)[-1].split("\n", 1)[0]
    return "YES" if support(answer, [passage]) >= 0.5 else "NO"


def _extractive_reply(messages: list[Message]) -> str:
    prompt = messages[-1]["content"]
    if "Question autonome" in prompt or "Standalone question" in prompt:
        # A rewrite request: echo the last question line unchanged.
        lines = [ln for ln in prompt.splitlines() if ln.strip()]
        return lines[-2].split(":", 1)[-1].strip() if len(lines) >= 2 else lines[-1]
    m = re.search(r"^\[1\][^\n]*\n(.+?)(?:\n\n|\n\[2\]|\Z)", prompt, flags=re.S | re.M)
    if not m:
        return "NO_ANSWER"
    first = re.split(r"(?<=[.!?])\s", m.group(1).strip(), maxsplit=1)[0]
    return f"{first} [1]"


def _in_turn(replies: list[str]) -> Callable[[list[Message]], str]:
    def next_reply(messages: list[Message]) -> str:
        if not replies:
            raise AssertionError("FakeLLM: more calls than scripted replies")
        return replies.pop(0)

    return next_reply
