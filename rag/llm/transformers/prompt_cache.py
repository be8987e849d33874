"""Recent prompts' keys and values, reused for the longest token prefix a new prompt shares.

A causal model's keys and values for a prompt's first n tokens depend on those n tokens only,
so a new prompt that starts with the same tokens as a recent one (the system prompt always; the
same first passages in a follow-up question) needs prefill only for the rest. The same idea as
vLLM's automatic prefix caching and SGLang's radix cache, for one CPU process: a few prompts in
least-recently-used order, bounded by the tokens they hold (about 28 KB per token for the
bundled 1.5B model in bf16). Written here because transformers only offers a cache for one
fixed prefix per `generate` call.

Reuse is exact only if the prompt is computed in the same pieces either way: a prefill split
elsewhere rounds differently in bf16, and a near tie then flips the answer (measured: the same
seeds question, asked fresh and again, gave two different answers). So a prompt is computed in
fixed pieces (`piece_starts`: the system turn, then `step` tokens at a time), and a cache is
reused only up to where a piece starts: how a question is answered does not depend on what was
asked before it.

Example:
    store = PromptCache(max_tokens=8192)
    starts = piece_starts(len(ids), system_tokens, 128)
    cache, reused = store.take(ids, new_cache, starts)   # a fresh cache holding the shared prefix
    model.generate(input_ids, past_key_values=cache, ...)
    store.put(ids, cache)                         # keeps the prompt's part of it
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

MIN_SHARED = 16  # fewer shared tokens than this: not worth copying a cache for
# Tokens always left to compute: more than rag.llm.transformers.quant's 16-row small-input paths,
# so the rest of a prompt takes the same kernels whatever was asked before (a repeated prompt too).
MIN_NEW = 32


def piece_starts(n: int, first: int, step: int) -> list[int]:
    """Where the pieces of an `n`-token prompt's prefill start, 0 left out: after its `first`
    tokens (the system turn: 0 for none), then every `step` tokens (0: the rest in one piece).
    The last start is where the model's own prefill (the one that gives the first token) takes
    over; all are below `n`.

        piece_starts(700, 180, 256) == [180, 436, 692]
    """
    starts = [first] if 0 < first < n else []
    if step > 0:
        starts += range(first + step, n, step)
    return starts


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` have in common."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PromptCache:
    """Per-layer (keys, values) of recent prompts, keyed by their token ids."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self._entries: OrderedDict[tuple[int, ...], list[tuple[Any, Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def tokens(self) -> int:
        return sum(len(k) for k in self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def take(
        self, ids: Sequence[int], new_cache: Callable[[], Any], at: Sequence[int] | None = None
    ) -> tuple[Any, int]:
        """A new cache (from `new_cache()`) filled with the longest prefix of `ids` held here
        that ends at one of the positions `at` (`piece_starts`), and its length; `at` None: any
        prefix that leaves MIN_NEW tokens of `ids` to compute."""
        best, shared = None, 0
        for key in self._entries:
            n = shared_prefix(key, ids)
            if n > shared:
                best, shared = key, n
        if at is None:
            shared = min(shared, len(ids) - MIN_NEW)
        else:
            shared = max((p for p in at if p <= shared and p < len(ids)), default=0)
        cache = new_cache()
        if best is None or shared < MIN_SHARED:
            return cache, 0
        self._entries.move_to_end(best)
        for i, (keys, values) in enumerate(self._entries[best]):
            cache.update(keys[:, :, :shared], values[:, :, :shared], i)  # the layer copies them
        return cache, shared

    def put(self, ids: Sequence[int], cache: Any) -> None:
        """Keep copies of `cache`'s keys and values for the tokens `ids` (it may hold more: the
        generated ones, which are not kept). A cache shorter than `ids`, or with sliding-window
        layers (they keep only their last tokens, not the prefix), is ignored."""
        key = tuple(ids)
        if not key or len(key) > self.max_tokens or cache.get_seq_length() < len(key):
            return
        if any(
            getattr(layer, "is_sliding", False) or layer.keys.shape[-2] < len(key)
            for layer in cache.layers
        ):
            return
        n = len(key)
        self._entries.pop(key, None)
        self._entries[key] = [
            (layer.keys[:, :, :n].clone(), layer.values[:, :, :n].clone()) for layer in cache.layers
        ]
        while self.tokens > self.max_tokens:
            self._entries.popitem(last=False)
