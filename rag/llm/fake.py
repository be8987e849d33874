"""The model-free generation backend (`RAG_LLM=fake`): scripted replies for tests and demos."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence

from rag.llm.base import LLM, Message, every_option

Script = Callable[[list[Message]], str] | Sequence[str] | None


class FakeLLM(LLM):
    """A model-free backend for tests and demos, scripted per task and per call.

    Each of the pipeline's tasks has its script: a callable (it gets the messages and returns
    the full reply), a list of replies given one per call in order (an error when it runs out),
    or None for the default. The defaults: `script` (answers) copies the first sentence of
    passage [1] of the prompt with its citation, so the checks have real work to do; `rewrite`
    returns the question unchanged; `verdict` says YES when most of the proposed answer's words
    are in the passage; `choice` is `LLM.choose`'s greedy reply (unscripted: the first option).
    The task comes from the caller (`complete(…, task)`), never from the
    prompt's wording. `calls` records every request, `tasks` what each was for.
    """

    name = "fake"

    def __init__(
        self,
        script: Script = None,
        rewrite: Script = None,
        verdict: Script = None,
        choice: Script = None,
    ) -> None:
        self.script, self.rewrite, self.verdict, self.choice = (
            _scripted(s) for s in (script, rewrite, verdict, choice)
        )
        self.calls: list[list[Message]] = []
        self.tasks: list[str] = []
        self._asked = threading.local()

    @property
    def task(self) -> str:
        """What the current request is for (set by `complete`, read by `stream`)."""
        return getattr(self._asked, "task", "answer")

    def complete(
        self, messages: list[Message], max_new_tokens: int, task: str = "answer"
    ) -> Iterator[str]:
        self._asked.task = task
        try:
            return iter(list(self.stream(messages, max_new_tokens)))
        finally:
            self._asked.task = "answer"

    def choose(
        self, messages: list[Message], options: list[str], abstain: str | None = None
    ) -> dict[str, float]:
        """`LLM.choose` reading the `choice` script's reply; unscripted, the first option."""
        if self.choice is not None:
            return super().choose(messages, options, abstain)
        self.calls.append(messages)
        self.tasks.append("choose")
        every = every_option(options, abstain)
        return {o: float(o == every[0]) for o in every}

    def stream(self, messages: list[Message], max_new_tokens: int = 160) -> Iterator[str]:
        task = self.task
        self.calls.append(messages)
        self.tasks.append(task)
        chosen, default = {
            "verify": (self.verdict, _verdict),
            "rewrite": (self.rewrite, _same_question),
            "choose": (
                self.choice,
                lambda messages: "1",
            ),  # (unscripted, `choose` takes the first option)
        }.get(task, (self.script, _extractive_reply))
        reply = (chosen or default)(messages)
        return iter(re.findall(r"\S+\s*", reply))


def _scripted(script: Script) -> Callable[[list[Message]], str] | None:
    return script if script is None or callable(script) else _in_turn(list(script))


def _verdict(messages: list[Message]) -> str:
    """YES when most of the proposed answer's words are in the passage
    (rag/answer/templates/verify.txt)."""
    from rag.text.words import support

    prompt = messages[-1]["content"]
    passage = prompt.split("Passage:", 1)[-1].split("Question:", 1)[0]
    answer = prompt.split("Proposed answer:", 1)[-1].split("\n", 1)[0]
    return "YES" if support(answer, [passage]) >= 0.5 else "NO"


def _same_question(messages: list[Message]) -> str:
    """The last question line of a rewrite request (rag/answer/templates/rewrite.txt), unchanged."""
    lines = [ln for ln in messages[-1]["content"].splitlines() if ln.strip()]
    return lines[-2].split(":", 1)[-1].strip() if len(lines) >= 2 else lines[-1]


def _extractive_reply(messages: list[Message]) -> str:
    m = re.search(
        r"^\[1\][^\n]*\n(.+?)(?:\n\n|\n\[2\]|\Z)",
        messages[-1]["content"],
        flags=re.DOTALL | re.MULTILINE,
    )
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
