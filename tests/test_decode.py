"""CPU decode fast paths (rag.llm.transformers.decode): same attention as sdpa, same greedy tokens on a tiny Qwen2."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers.integrations.sdpa_attention import sdpa_attention_forward

from rag.llm.transformers import decode


class _Attention(torch.nn.Module):
    num_key_value_groups = 6
    is_causal = True
    layer_idx = 0


@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
def test_single_query_attention_matches_sdpa(mask_kind):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 12, 1, 64, generator=g).bfloat16()
    k = torch.randn(1, 2, 37, 64, generator=g).bfloat16()
    v = torch.randn(1, 2, 37, 64, generator=g).bfloat16()
    mask = None
    if mask_kind:  # hide the first 5 keys (left padding)
        keep = torch.ones(1, 1, 1, 37, dtype=torch.bool)
        keep[..., :5] = False
        mask = (
            keep
            if mask_kind == "bool"
            else torch.zeros(1, 1, 1, 37).masked_fill(~keep, float("-inf"))
        )
    ref, _ = sdpa_attention_forward(_Attention(), q, k, v, mask, scaling=64**-0.5)
    out, _ = decode.decode_attention(_Attention(), q, k, v, mask, scaling=64**-0.5)
    assert out.shape == ref.shape == (1, 1, 12, 64)
    assert (out.float() - ref.float()).abs().max() < 0.02
    if mask_kind:  # the hidden keys really are ignored: changing them changes nothing
        v2 = v.clone()
        v2[..., :5, :] = 100
        again, _ = decode.decode_attention(_Attention(), q, k, v2, mask, scaling=64**-0.5)
        assert torch.equal(again, out)


def _causal_mask(q_len, kv_len):
    return torch.ones(1, 1, q_len, kv_len, dtype=torch.bool).tril(kv_len - q_len)


@pytest.mark.parametrize("prefix", [0, 9])
@pytest.mark.parametrize("block", [3, 64])
def test_prompt_attention_matches_sdpa_with_and_without_a_cached_prefix(monkeypatch, prefix, block):
    monkeypatch.setattr(decode, "PROMPT_BLOCK", block)  # 3: 11 queries in 4 blocks, the last short
    g = torch.Generator().manual_seed(1)
    q = (3 * torch.randn(1, 12, 11, 64, generator=g)).bfloat16()  # large logits, as in real layers
    k = (3 * torch.randn(1, 2, prefix + 11, 64, generator=g)).bfloat16()
    v = torch.randn(1, 2, prefix + 11, 64, generator=g).bfloat16()
    mask = None if prefix == 0 else _causal_mask(11, prefix + 11)  # what transformers passes
    ref, _ = sdpa_attention_forward(_Attention(), q, k, v, mask, scaling=0.1)
    exact = torch.nn.functional.scaled_dot_product_attention(
        q.float(),
        k.float().repeat_interleave(6, 1),
        v.float().repeat_interleave(6, 1),
        attn_mask=_causal_mask(11, prefix + 11),
        scale=0.1,
    ).transpose(1, 2)
    out, _ = decode.decode_attention(_Attention(), q, k, v, mask, scaling=0.1)
    assert out.shape == ref.shape == (1, 11, 12, 64) and out.dtype == torch.bfloat16
    assert not torch.equal(out, ref)  # not sdpa's result: our path ran
    # as close to float32 attention as sdpa's own bf16 result
    assert (out.float() - exact).abs().max() <= max(0.02, 1.5 * (ref.float() - exact).abs().max())
    later = v.clone()
    later[:, :, -1] = 100  # the last key is visible to the last query only
    again, _ = decode.decode_attention(_Attention(), q, k, later, mask, scaling=0.1)
    assert torch.equal(again[:, :-1], out[:, :-1]) and not torch.equal(again[:, -1], out[:, -1])


def test_prompts_with_other_masks_still_go_through_sdpa():
    q = torch.randn(1, 12, 4, 64).bfloat16()
    k = v = torch.randn(1, 2, 6, 64).bfloat16()
    padded = _causal_mask(4, 6).clone()
    padded[..., 0] = False  # a left-padded first key
    not_causal = type("_NotCausal", (_Attention,), {"is_causal": False})()
    square = k[:, :, :4], v[:, :, :4]
    for module, mask, (keys, values) in [
        (_Attention(), padded, (k, v)),
        (_Attention(), padded.float(), (k, v)),
        (not_causal, None, square),  # an encoder-style layer: no mask, not causal
    ]:
        ref, _ = sdpa_attention_forward(module, q, keys, values, mask, scaling=0.125)
        out, _ = decode.decode_attention(module, q, keys, values, mask, scaling=0.125)
        assert torch.equal(out, ref)


def _tiny_qwen(hidden: int, layers: int) -> torch.nn.Module:
    config = transformers.Qwen2Config(
        vocab_size=256,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    return transformers.Qwen2ForCausalLM(config).float().eval()


def test_tiny_qwen_generates_the_same_tokens_with_the_decode_paths():
    torch.manual_seed(0)
    model = _tiny_qwen(128, 2)  # float32: no rounding ties
    ids = torch.randint(0, 256, (1, 40))
    kw = {"max_new_tokens": 12, "do_sample": False, "pad_token_id": 0}
    with torch.inference_mode():
        ref = model.generate(ids, **kw)
        decode.use_decode_attention(model)
        decode.decode_without_onednn(model)
        assert model.config._attn_implementation == decode.NAME
        out = model.generate(ids, **kw)
    assert torch.equal(out, ref)


def test_a_prompt_after_a_cached_prefix_takes_the_blocked_attention_with_transformers_mask(
    monkeypatch,
):
    torch.manual_seed(0)
    model = _tiny_qwen(128, 2)
    decode.use_decode_attention(model)
    ids = torch.randint(0, 256, (1, 40))
    calls = []
    blocked = decode.prompt_attention
    monkeypatch.setattr(
        decode, "prompt_attention", lambda *a: calls.append(a[0].shape) or blocked(*a)
    )
    logits = {}
    for block in (0, 8):  # 0: transformers' sdpa for every prompt
        monkeypatch.setattr(decode, "PROMPT_BLOCK", block)
        cache = decode.DecodeCache(model.config)
        with torch.inference_mode():
            model(input_ids=ids[:, :25], past_key_values=cache, use_cache=True)
            logits[block] = model(
                input_ids=ids[:, 25:], past_key_values=cache, use_cache=True
            ).logits
    assert calls == [(1, 4, 25, 32)] * 2 + [(1, 4, 15, 32)] * 2  # both layers, both prompts
    assert (logits[8] - logits[0]).abs().max() < 1e-4  # float32 model: the same numbers


def test_the_decode_wrapper_keeps_the_forward_signature_so_generate_keeps_one_logit():
    model = _tiny_qwen(64, 1)
    decode.decode_without_onednn(model)
    assert model._supports_logits_to_keep()
    seen = []
    forward = model.forward
    model.forward = lambda *a, **kw: (seen.append(kw.get("logits_to_keep")), forward(*a, **kw))[1]
    model.forward.__wrapped__ = forward
    with torch.inference_mode():
        model.generate(
            torch.randint(0, 256, (1, 20)), max_new_tokens=2, do_sample=False, pad_token_id=0
        )
    assert seen[0] == 1  # the prompt step computes the last position's logits only


def _with_both_caches(model, new_tokens: int):
    """Greedy tokens after a random 30-token prompt with transformers' DynamicCache and with a
    DecodeCache (decode attention on): (reference, output, the DecodeCache)."""
    decode.use_decode_attention(model)
    ids = torch.randint(0, 256, (1, 30))
    kw = {
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "do_sample": False,
        "pad_token_id": 0,
    }
    with torch.inference_mode():
        ref = model.generate(
            ids, past_key_values=transformers.DynamicCache(config=model.config), **kw
        )
        cache = decode.DecodeCache(model.config)
        out = model.generate(ids, past_key_values=cache, **kw)
    return ref, out, cache


def _sliding_window_config():
    return transformers.Qwen2Config(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        use_sliding_window=True,
        sliding_window=8,
        max_window_layers=0,
    )


def test_decode_cache_gives_the_same_tokens_past_its_spare_room():
    torch.manual_seed(1)
    model = _tiny_qwen(128, 2)
    # 150 new tokens: the buffers fill up after SPARE (128) steps and must grow once
    ref, out, cache = _with_both_caches(model, 150)
    assert torch.equal(out, ref)
    assert cache.get_seq_length() == 30 + 150 - 1  # the last token is generated, never cached
    assert all(layer.keys.shape[-2] == 179 for layer in cache.layers)


def test_decode_layer_returns_float32_while_decoding_and_stays_consistent_after_a_prompt():
    layer = decode.DecodeLayer()
    k = torch.randn(1, 2, 5, 8).bfloat16()
    v = torch.randn(1, 2, 5, 8).bfloat16()
    keys, _ = layer.update(k, v)  # a prompt: bf16, as DynamicLayer
    assert keys.dtype == torch.bfloat16 and keys.shape[-2] == 5
    step = torch.randn(1, 2, 1, 8).bfloat16()
    keys, values = layer.update(step, step)  # a decode step: float32 copy of everything
    assert keys.dtype == values.dtype == torch.float32
    assert torch.equal(keys, torch.cat([k, step], dim=-2).float())
    assert torch.equal(layer.keys, torch.cat([k, step], dim=-2))  # bf16 view of the same tokens
    more = torch.randn(1, 2, 3, 8).bfloat16()
    keys, _ = layer.update(more, more)  # a second prompt part after decoding: plain concatenation
    assert keys.dtype == torch.bfloat16 and torch.equal(keys, torch.cat([k, step, more], dim=-2))
    keys, _ = layer.update(step, step)
    assert torch.equal(keys, torch.cat([k, step, more, step], dim=-2).float())
    layer.crop(-2)  # drops the last step and the last prompt token
    keys, _ = layer.update(step, step)
    assert torch.equal(keys, torch.cat([k, step, more[:, :, :2], step], dim=-2).float())


def test_decode_cache_refuses_sliding_window_models():
    with pytest.raises(ValueError, match="full attention"):
        decode.DecodeCache(_sliding_window_config())


def test_decode_cache_in_bf16_gives_the_same_tokens_and_stops_reallocating():
    torch.manual_seed(2)
    model = _tiny_qwen(128, 2).bfloat16()
    ref, out, cache = _with_both_caches(model, 40)
    assert torch.equal(out, ref)
    with torch.inference_mode():
        layer = cache.layers[0]
        buffers = [b.data_ptr() for b in layer._buffers]
        model(input_ids=out[:, -1:], past_key_values=cache, use_cache=True)  # one more decode step
        assert [b.data_ptr() for b in layer._buffers] == buffers  # written in place, not re-copied
        assert layer.keys.data_ptr() == buffers[0]


def test_decode_layer_takes_a_first_single_token_and_sees_replaced_tensors():
    layer = decode.DecodeLayer()
    one = torch.randn(1, 2, 1, 8).bfloat16()
    keys, _ = layer.update(one, one)  # a one-token prompt into an empty layer
    assert torch.equal(keys, one)
    keys, _ = layer.update(one, one)
    assert keys.dtype == torch.float32 and keys.shape[-2] == 2
    swapped = torch.randn(1, 2, 2, 8).bfloat16()
    layer.keys, layer.values = swapped, swapped  # e.g. a reorder by the base class
    keys, _ = layer.update(one, one)
    assert torch.equal(keys, torch.cat([swapped, one], dim=-2).float())


def test_the_model_falls_back_to_transformers_cache_for_sliding_window_models():
    from types import SimpleNamespace

    from rag.core.settings import Settings
    from rag.llm.transformers.model import TransformersLLM

    llm = TransformersLLM(Settings())
    llm._model = SimpleNamespace(config=_tiny_qwen(32, 2).config)
    assert isinstance(llm._new_cache(), decode.DecodeCache)
    llm._model = SimpleNamespace(config=_sliding_window_config())
    cache = llm._new_cache()
    assert type(cache) is transformers.DynamicCache
