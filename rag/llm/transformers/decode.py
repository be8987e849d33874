"""CPU fast paths for decoding one token at a time with transformers.

Four things are slow on CPU when new tokens attend to a long prompt, and all are fixed here
without changing the arithmetic's meaning:

- PyTorch's flash-attention kernel for CPU, which `sdpa` picks, is slow for a single query: over
  a long prompt its per-token cost rivals reading the weights, while a plain grouped matmul +
  softmax in float32 costs a small fraction of that (measured:
  docs/results/2026-11-22-speed-one-thread.md). `decode_attention` is registered with
  transformers' AttentionInterface and used for single-token steps.
- The same kernel is slow for prompts after a cached prefix (the system turn, a recent prompt),
  whose causal mask it reads element by element: a large share of such a prompt's time.
  `prompt_attention` computes blocks of 64 queries against only the keys they see, scores in
  float32, in a fraction of that time; its final logits are as close to a float32 attention's
  as sdpa's, with the same top token (measured: docs/results/2026-11-22-prompt-kernels.md).
  Prompts whose mask is not plain causal (padding) still go through `sdpa`.
- oneDNN's bf16 matrix-vector kernel reads weights at a much lower bandwidth than PyTorch's own
  kernel, so single-token forwards run with oneDNN off (`decode_without_onednn`; measured:
  docs/results/2026-11-22-speed-one-thread.md).
- transformers' `DynamicCache` concatenates each new token's keys and values onto the whole
  cache, and the float32 attention above then converted the whole bf16 cache again, at every
  step: a sizeable share of each token's time with a long prompt, mostly in copies (measured:
  docs/results/2026-11-22-decode-cache.md). `DecodeCache` keeps the cache, while decoding, in
  buffers with spare room plus a float32 copy that grows by one token a step (`DecodeLayer`).

Written by hand because neither transformers nor PyTorch chooses a different attention kernel
or cache layout for decode steps or cached-prefix prompts on CPU.
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
    """Attention for one sequence: one query token by grouped matmuls in float32, a causal
    prompt by `prompt_attention`; anything else (batches, padding masks) goes to transformers'
    sdpa implementation unchanged.

    Shapes as transformers passes them: query (1, heads, n, dim), key/value (1, kv_heads, L, dim);
    returns (1, n, heads, dim).
    """
    batch, heads, q_len, dim = query.shape
    extras = ("softcap", "position_bias", "cache")  # arguments sdpa_attention_forward acts on
    plain = batch == 1 and not dropout and all(kwargs.get(name) is None for name in extras)
    if PROMPT_BLOCK and plain and q_len > 1:
        causal = kwargs.get("is_causal", getattr(module, "is_causal", True))
        if causal and _causal(attention_mask, q_len, key.shape[2]):
            return prompt_attention(query, key, value, scaling), None
    if not plain or q_len != 1:
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


PROMPT_BLOCK = 64  # query rows per block in prompt_attention (0: prompts go through sdpa)


def _causal(mask: torch.Tensor | None, q_len: int, kv_len: int) -> bool:
    """Whether `mask` lets query row i see exactly keys 0 .. kv_len - q_len + i (None: sdpa's
    is_causal, which transformers passes only when there is no cached prefix)."""
    if mask is None:
        return q_len == kv_len
    if mask.dtype != torch.bool or tuple(mask.shape) != (1, 1, q_len, kv_len):
        return False
    return torch.equal(mask[0, 0], _causal_mask(q_len, kv_len, mask.device))


@functools.lru_cache(maxsize=4)
def _causal_mask(q_len: int, kv_len: int, device: torch.device) -> torch.Tensor:
    return torch.ones(q_len, kv_len, dtype=torch.bool, device=device).tril(kv_len - q_len)


@functools.lru_cache(maxsize=4)
def _upper(size: int, device: torch.device) -> torch.Tensor:
    return torch.ones(size, size, dtype=torch.bool, device=device).triu(1)


def prompt_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scaling: float | None
) -> torch.Tensor:
    """Causal attention of a prompt's queries over a cache whose last keys are theirs, in
    blocks of PROMPT_BLOCK query rows: scores in float32 (bf16 scores would round logits of
    magnitude 50 by 0.25), each block against only the keys it can see, heads grouped by kv
    head (no repeated keys). Returns (1, q_len, heads, dim) like sdpa_attention_forward."""
    _, heads, q_len, dim = query.shape
    kv_heads, kv_len = key.shape[1], key.shape[2]
    group, prefix = heads // kv_heads, kv_len - q_len
    scale = dim**-0.5 if scaling is None else scaling
    keys = key[0].float()  # (kv, L, dim)
    values = value[0].to(query.dtype)
    out = torch.empty(1, q_len, heads, dim, dtype=query.dtype, device=query.device)
    for start in range(0, q_len, PROMPT_BLOCK):
        stop = min(q_len, start + PROMPT_BLOCK)
        rows, end = stop - start, prefix + stop
        q = query[0, :, start:stop].float().reshape(kv_heads, group * rows, dim)
        scores = torch.matmul(q, keys[:, :end].transpose(-1, -2)).mul_(scale)  # (kv, g*rows, end)
        # the block's own keys: each query sees those up to itself
        own = scores.view(kv_heads, group, rows, end)[..., prefix + start :]
        own.masked_fill_(_upper(rows, query.device), float("-inf"))
        probs = scores.softmax(dim=-1).to(query.dtype)
        block = torch.matmul(probs, values[:, :end])  # (kv, g*rows, dim)
        out[0, start:stop] = block.view(heads, rows, dim).transpose(0, 1)
    return out


def use_decode_attention(model: Any) -> None:
    """Register `decode_attention` and switch `model` to it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, decode_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)  # the masks sdpa expects
    model.set_attn_implementation(NAME)


def decode_without_onednn(model: Any) -> None:
    """Run single-token (decode) forward passes with oneDNN disabled.

    On CPU, oneDNN's bf16 matrix-vector kernel reads the weights at a much lower memory
    bandwidth; PyTorch's own kernel is faster for one token, while oneDNN stays much faster
    for the prompt (prefill) (measured: docs/results/2026-11-22-speed-one-thread.md). The flag
    is process-wide, which is safe because generation holds the model's lock and the embedder
    does not use torch. Same weights, same arithmetic order per row: greedy answers are
    unchanged in our runs.

    The wrapper must keep `forward`'s signature: `generate` passes `logits_to_keep=1` only to a
    forward that declares it. Without it (our first version) every prompt computed the output
    layer for all its positions: markedly slower prompts and much more memory (measured:
    docs/results/2026-11-22-speed-one-thread.md).
    """
    forward = model.forward

    @functools.wraps(
        forward
    )  # keeps forward's signature: `generate` looks for logits_to_keep in it
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
        keys, _ = self._cached()
        if key_states.shape[0] != 1 or key_states.shape[-2] != 1 or keys.numel() == 0:
            self._buffers = None  # a prompt, a batch, or a first token: plain concatenation
            return super().update(key_states, value_states)
        n = keys.shape[-2]
        buffers = self._buffers if self._current(n) else None
        if buffers is None or buffers[0].shape[-2] == n:
            buffers = self._grow(n)
        bk, bv, fk, fv = buffers
        bk[:, :, n : n + 1] = key_states
        bv[:, :, n : n + 1] = value_states
        fk[:, :, n : n + 1] = key_states
        fv[:, :, n : n + 1] = value_states
        self._length = n + 1
        self.keys, self.values = bk[:, :, : n + 1], bv[:, :, : n + 1]
        return fk[:, :, : n + 1], fv[:, :, : n + 1]

    def _cached(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`keys` and `values`, which lazy_initialization sets before the first update."""
        if self.keys is None or self.values is None:
            raise RuntimeError("a KV cache layer was read before its first update")
        return self.keys, self.values

    def _current(self, n: int) -> bool:
        """Whether the buffers still hold exactly `keys` / `values` (nothing replaced them: a
        crop, a reorder, a batch operation of the base class). Edits in place are not seen."""
        keys, values = self._cached()
        return (
            self._buffers is not None
            and self._length == n
            and keys.data_ptr() == self._buffers[0].data_ptr()
            and values.data_ptr() == self._buffers[1].data_ptr()
        )

    def _grow(self, n: int) -> tuple[torch.Tensor, ...]:
        """New buffers holding the first `n` cached tokens, with SPARE tokens of room."""
        keys, values = self._cached()
        shape = (*keys.shape[:2], n + self.SPARE, keys.shape[-1])
        buffers = []
        for dtype in (keys.dtype, torch.float32):
            for old in (keys, values):
                new = torch.empty(shape, dtype=dtype, device=old.device)
                new[:, :, :n] = old
                buffers.append(new)
        self._buffers = tuple(buffers)  # bf16 keys, values, float32 keys, values
        self._length = n
        self.keys, self.values = buffers[0][:, :, :n], buffers[1][:, :, :n]
        return self._buffers

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
