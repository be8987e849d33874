"""CPU fast paths for decoding one token at a time with transformers.

Two things are slow on CPU when a single new token attends to a long prompt, and both are
fixed here without changing the arithmetic's meaning:

- PyTorch's flash-attention kernel for CPU, which `sdpa` picks, takes ~0.56 ms per layer for one
  query over 400 keys and ~1.5 ms over 1,100 (measured on this 2-core CPU): 15–42 ms per token,
  as much as the weights. A plain grouped matmul + softmax in float32 takes 0.13–0.16 ms.
  `decode_attention` is registered with transformers' AttentionInterface and used for
  single-token steps; prompts (many queries, causal mask) still go through `sdpa`.
- oneDNN's bf16 matrix-vector kernel reads weights at about half the bandwidth of PyTorch's own
  kernel, so single-token forwards run with oneDNN off (`decode_without_onednn`).

Written by hand because neither transformers nor PyTorch chooses a different attention kernel
for decode steps on CPU.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
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
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    kv_heads = key.shape[1]
    scale = dim**-0.5 if scaling is None else scaling
    q = query.reshape(kv_heads, heads // kv_heads, dim).float()  # heads grouped by kv head
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
