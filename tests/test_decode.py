"""CPU decode fast paths (rag.decode): same attention as sdpa, same greedy tokens on a tiny Qwen2."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers.integrations.sdpa_attention import sdpa_attention_forward  # noqa: E402

from rag import decode  # noqa: E402


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
        mask = keep if mask_kind == "bool" else torch.zeros(1, 1, 1, 37).masked_fill(~keep, float("-inf"))
    ref, _ = sdpa_attention_forward(_Attention(), q, k, v, mask, scaling=64**-0.5)
    out, _ = decode.decode_attention(_Attention(), q, k, v, mask, scaling=64**-0.5)
    assert out.shape == ref.shape == (1, 1, 12, 64)
    assert (out.float() - ref.float()).abs().max() < 0.02
    if mask_kind:  # the hidden keys really are ignored: changing them changes nothing
        v2 = v.clone()
        v2[..., :5, :] = 100
        again, _ = decode.decode_attention(_Attention(), q, k, v2, mask, scaling=64**-0.5)
        assert torch.equal(again, out)


def test_prompts_still_go_through_sdpa():
    q = torch.randn(1, 12, 4, 64).bfloat16()
    k = v = torch.randn(1, 2, 4, 64).bfloat16()
    ref, _ = sdpa_attention_forward(_Attention(), q, k, v, None, scaling=0.125)
    out, _ = decode.decode_attention(_Attention(), q, k, v, None, scaling=0.125)
    assert torch.equal(out, ref)


def _tiny_qwen(hidden: int, layers: int) -> torch.nn.Module:
    config = transformers.Qwen2Config(
        vocab_size=256, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
    )  # fmt: skip
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


def test_the_decode_wrapper_keeps_the_forward_signature_so_generate_keeps_one_logit():
    model = _tiny_qwen(64, 1)
    decode.decode_without_onednn(model)
    assert model._supports_logits_to_keep()
    seen = []
    forward = model.forward
    model.forward = lambda *a, **kw: (seen.append(kw.get("logits_to_keep")), forward(*a, **kw))[1]
    model.forward.__wrapped__ = forward
    with torch.inference_mode():
        model.generate(torch.randint(0, 256, (1, 20)), max_new_tokens=2, do_sample=False, pad_token_id=0)
    assert seen[0] == 1  # the prompt step computes the last position's logits only
