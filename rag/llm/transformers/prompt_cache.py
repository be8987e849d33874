"""Recent prompts' keys and values, reused for the longest token prefix a new prompt shares.

A causal model's keys and values for a prompt's first n tokens depend on those n tokens only,
so a new prompt that starts with the same tokens as a recent one (the system prompt always; the
same first passages in a follow-up question) needs prefill only for the rest (the same result up
to bf16 rounding: the computation is split differently, which can flip a near tie). The same idea as
vLLM's automatic prefix caching and SGLang's radix cache, for one CPU process: a few prompts in
least-recently-used order, bounded by the tokens they hold (about 28 KB per token for the
bundled 1.5B model in bf16). Written here because transformers only offers a cache for one
fixed prefix per `generate` call.

Example:
    store = PromptCache(max_tokens=8192)
    cache, reused = store.take(ids, new_cache)   # a fresh cache holding the shared prefix
    model.generate(input_ids, past_key_values=cache, ...)
    store.put(ids, cache)                         # keeps the prompt's part of it
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

MIN_SHARED = 16  # fewer shared tokens than this: not worth copying a cache for
MIN_NEW = 32  # tokens always left to compute: more than rag.llm.transformers.quant's 16-row small-input paths, so
# the rest of a prompt takes the same kernels whatever was asked before (a repeated prompt too)


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

    def take(self, ids: Sequence[int], new_cache: Callable[[], Any]) -> tuple[Any, int]:
        """A new cache (from `new_cache()`) filled with the longest prefix of `ids` held here,
        and its length; at least MIN_NEW tokens of `ids` are always left to compute."""
        best, shared = None, 0
        for key in self._entries:
            n = shared_prefix(key, ids)
            if n > shared:
                best, shared = key, n
        shared = min(shared, len(ids) - MIN_NEW)
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
        if any(getattr(layer, "is_sliding", False) or layer.keys.shape[-2] < len(key) for layer in cache.layers):
            return
        n = len(key)
        self._entries.pop(key, None)
        self._entries[key] = [
            (layer.keys[:, :, :n].clone(), layer.values[:, :, :n].clone()) for layer in cache.layers
        ]
        while self.tokens > self.max_tokens:
            self._entries.popitem(last=False)
