"""What every generation backend is: chat messages in, a stream of text pieces out (greedy).

Backends subclass `LLM`; `rag.llm.registry` builds one by name and imports its heavy library only
then. `load()` and `prime()` are explicit, with do-nothing defaults for backends that have no
weights to load or caches to warm (a remote server, a test fake).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}
Progress = Callable[[float, str], object]  # (fraction 0..1, step) while a first start prepares
TASKS = ("answer", "rewrite", "verify")  # what the pipeline asks a backend for


class LLM:
    """A generation backend. Subclasses set `name` and implement `stream`."""

    name: str = ""
    # Where a long first load reports its progress; None: a bar on the terminal (if any).
    progress: Progress | None = None

    def load(self) -> None:
        """Load the model now rather than on the first stream (errors: ModelError)."""

    def prime(self, conversations: list[list[Message]]) -> None:
        """Run the model once on each conversation and discard the reply, so that caches and
        one-off costs are paid before a user waits on them."""

    def stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece (greedy)."""
        raise NotImplementedError

    def complete(self, messages: list[Message], max_new_tokens: int, task: str = "answer") -> Iterator[str]:
        """`stream` for one of the pipeline's TASKS. A model needs only the messages (this
        default); a test fake uses `task` to pick its scripted reply instead of reading the prompt."""
        return self.stream(messages, max_new_tokens)

    def describe(self) -> list[str]:
        """Lines saying which engine and kernels run, for `rag doctor` and the app's model panel."""
        return []
