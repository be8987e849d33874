"""CPU fast paths for decoding one token at a time with transformers.

Three things are slow on CPU when a single new token attends to a long prompt, and all are
fixed here without changing the arithmetic's meaning:

- PyTorch's flash-attention kernel for CPU, which `sdpa` picks, takes ~0.56 ms per layer for one
  query over 400 keys and ~1.5 ms over 1,100 (measured on this 2-core CPU): 15–42 ms per token,
  as much as the weights. A plain grouped matmul + softmax in float32 takes 0.13–0.16 ms.
  `decode_attention` is registered with transformers' AttentionInterface and used for
  single-token steps; prompts (many queries, causal mask) still go through `sdpa`.
- oneDNN's bf16 matrix-vector kernel reads weights at about half the bandwidth of PyTorch's own
  kernel, so single-token forwards run with oneDNN off (`decode_without_onednn`).
- transformers' `DynamicCache` concatenates each new token's keys and values onto the whole
  cache, and the float32 attention above then converted the whole bf16 cache again, at every
  step: ~21 ms of a ~95 ms token with a 1,055-token prompt (torch.profiler: `copy_` 15.5 ms,
  `cat` 5.6 ms). `DecodeCache` keeps the cache, while decoding, in buffers with spare room plus
  a float32 copy that grows by one token a step (`DecodeLayer`).

Written by hand because neither transformers nor PyTorch chooses a different attention kernel
or cache layout for decode steps on CPU.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward

NAME = "rag_decode"


def decode_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention for one query token of one sequence: grouped matmuls in float32; anything else
    (prompts, batches) goes to transformers' sdpa implementation unchanged.

    Shapes as transformers passes them: query (1, heads, 1, dim), key/value (1, kv_heads, L, dim);
    returns (1, 1, heads, dim).
    """
    batch, heads, q_len, dim = query.shape
    if batch != 1 or q_len != 1 or dropout or kwargs.get("softcap") is not None:
        key, value = key.to(query.dtype), value.to(query.dtype)  # a DecodeLayer gives float32
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    kv_heads = key.shape[1]
    scale = dim**-0.5 if scaling is None else scaling
    q = query.reshape(kv_heads, heads // kv_heads, dim).float()  # heads grouped by kv head
    # float32 already when the cache is a DecodeCache: then .float() copies nothing
    scores = torch.matmul(q, key[0].float().transpose(-1, -2)).mul_(scale)  # (kv, group, L)
    if attention_mask is not None:
        mask = attention_mask[0, 0, -1, -key.shape[2] :]  # the one query row, over all keys
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask.float()
    probs = scores.softmax(dim=-1)
    out = torch.matmul(probs, value[0].float()).to(query.dtype)  # (kv, group, dim)
    return out.reshape(1, 1, heads, dim), None


def use_decode_attention(model: Any) -> None:
    """Register `decode_attention` and switch `model` to it (prompts keep using sdpa)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, decode_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)  # the masks sdpa expects
    model.set_attn_implementation(NAME)


def decode_without_onednn(model: Any) -> None:
    """Run single-token (decode) forward passes with oneDNN disabled.

    On CPU, oneDNN's bf16 matrix-vector kernel reads the weights at about half the memory
    bandwidth; PyTorch's own kernel is ~2x faster for one token, while oneDNN stays much faster
    for the prompt (prefill). The flag is process-wide, which is safe because generation holds
    the model's lock and the embedder does not use torch. Same weights, same arithmetic order per
    row: greedy answers are unchanged in our runs.

    The wrapper must keep `forward`'s signature: `generate` passes `logits_to_keep=1` only to a
    forward that declares it. Without it (our first version) every prompt computed the output
    layer for all its positions: ~1 s more per 1,000-token prompt and ~1 GB more memory.
    """
    forward = model.forward

    @functools.wraps(forward)  # keeps forward's signature: `generate` looks for logits_to_keep in it
    def forward_fast_decode(*args: Any, **kwargs: Any) -> Any:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None and ids.shape[-1] == 1:
            with torch.backends.mkldnn.flags(enabled=False):
                return forward(*args, **kwargs)
        return forward(*args, **kwargs)

    model.forward = forward_fast_decode


class DecodeLayer(DynamicLayer):
    """A `DynamicLayer` that stops re-copying itself once decoding starts.

    Prompt updates (several tokens) concatenate in bf16 as usual. A single-token update writes
    into preallocated bf16 buffers (`keys` / `values` stay views of the filled part, so every
    reader of a DynamicLayer sees the same tensors) and into a float32 copy of the whole cache,
    which is what it returns: `decode_attention` computes in float32 and so converts nothing.
    The float32 copy is built on the first decode step and dropped at the next prompt update.
    """

    SPARE = 128  # tokens of room added whenever a buffer is full (96 new tokens per answer)

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self._buffers: tuple[torch.Tensor, ...] | None = None  # bf16 k, v, float32 k, v
        self._length = 0  # tokens filled in the buffers

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        if key_states.shape[0] != 1 or key_states.shape[-2] != 1 or self.keys.numel() == 0:
            self._buffers = None  # a prompt, a batch, or a first token: plain concatenation
            return super().update(key_states, value_states)
        n = self.keys.shape[-2]
        if not self._current(n) or self._buffers[0].shape[-2] == n:  # type: ignore[index]
            self._grow(n)
        bk, bv, fk, fv = self._buffers  # type: ignore[misc]
        bk[:, :, n : n + 1] = key_states
        bv[:, :, n : n + 1] = value_states
        fk[:, :, n : n + 1] = key_states
        fv[:, :, n : n + 1] = value_states
        self._length = n + 1
        self.keys, self.values = bk[:, :, : n + 1], bv[:, :, : n + 1]
        return fk[:, :, : n + 1], fv[:, :, : n + 1]

    def _current(self, n: int) -> bool:
        """Whether the buffers still hold exactly `keys` / `values` (nothing replaced them: a
        crop, a reorder, a batch operation of the base class). Edits in place are not seen."""
        return (
            self._buffers is not None
            and self._length == n
            and self.keys.data_ptr() == self._buffers[0].data_ptr()
            and self.values.data_ptr() == self._buffers[1].data_ptr()
        )

    def _grow(self, n: int) -> None:
        """New buffers holding the first `n` cached tokens, with SPARE tokens of room."""
        shape = (*self.keys.shape[:2], n + self.SPARE, self.keys.shape[-1])
        buffers = []
        for dtype in (self.keys.dtype, torch.float32):
            for old in (self.keys, self.values):
                new = torch.empty(shape, dtype=dtype, device=old.device)
                new[:, :, :n] = old
                buffers.append(new)
        self._buffers = tuple(buffers)  # bf16 keys, values, float32 keys, values
        self._length = n
        self.keys, self.values = buffers[0][:, :, :n], buffers[1][:, :, :n]

    def crop(self, tokens_to_remove: int) -> None:
        self._buffers = None
        super().crop(tokens_to_remove)


class DecodeCache(DynamicCache):
    """A `DynamicCache` of `DecodeLayer`s, for a model that uses `decode_attention`.

    Example: `model.generate(ids, past_key_values=DecodeCache(model.config), max_new_tokens=20)`.
    Raises ValueError for a model with sliding-window layers (use a DynamicCache there).
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config=config)
        if any(type(layer) is not DynamicLayer for layer in self.layers):
            raise ValueError("DecodeCache is for models whose layers all use full attention")
        self.layers = [DecodeLayer() for _ in self.layers]
