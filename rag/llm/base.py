"""What every generation backend is: chat messages in, a stream of text pieces out (greedy).

Backends subclass `LLM`; `rag.llm.registry` builds one by name and imports its heavy library only
then. `load()` and `prime()` are explicit, with do-nothing defaults for backends that have no
weights to load or caches to warm (a remote server, a test fake).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}
Progress = Callable[[float, str], object]  # (fraction 0..1, step) while a first start prepares
TASKS = ("answer", "rewrite", "verify", "choose")  # what the pipeline asks a backend for


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

    def complete(
        self, messages: list[Message], max_new_tokens: int, task: str = "answer"
    ) -> Iterator[str]:
        """`stream` for one of the pipeline's TASKS. A model needs only the messages (this default);
        a test fake uses `task` to pick its scripted reply instead of reading the prompt."""
        return self.stream(messages, max_new_tokens)

    def choose(
        self, messages: list[Message], options: list[str], abstain: str | None = None
    ) -> dict[str, float]:
        """The probability of each option being the whole reply, with decoding constrained to
        the options (they sum to 1). This default has no probabilities to give: it reads the
        greedy reply and gives 1 to the option it is, else to the longest option it begins with or
        that begins it, else 0 to every option (a backend with logits overrides it:
        rag.llm.transformers.model).
        `abstain`: one more option ("NONE"); a backend with logits measures it without
        letting it end the walk.

        choose([...], ["0", "1", "2"]) -> {"0": 0.05, "1": 0.9, "2": 0.05}
        """
        every = every_option(options, abstain)
        reply = "".join(self.complete(messages, 8, "choose")).strip()
        picked = picked_option(reply, every)
        return {o: float(o == picked) for o in every}  # all 0 when the reply is none of them

    def describe(self) -> list[str]:
        """Lines saying which engine and kernels run, for `rag doctor` and the app's model panel."""
        return []


def every_option(options: list[str], abstain: str | None = None) -> list[str]:
    """The options `LLM.choose` weighs: each once, in order, then `abstain` when given."""
    return list(dict.fromkeys([*options, *([abstain] if abstain is not None else [])]))


def picked_option(reply: str, options: list[str]) -> str | None:
    """The option a greedy reply names: the reply itself, else the longest option it begins
    with or that begins it (a reply cut short), else None.

    picked_option("12 mars", ["12", "12 mars 2017"]) -> "12 mars 2017"
    """
    if reply in options:
        return reply
    if not reply:
        return None
    return next(
        (
            o
            for o in sorted(options, key=len, reverse=True)
            if reply.startswith(o) or o.startswith(reply)
        ),
        None,
    )
