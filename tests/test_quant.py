"""int4/int8 linear layers (rag.llm.transformers.quant) on small synthetic weights and a tiny random Qwen2."""

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from rag.llm.transformers import (
    kernels,
    quant,
)


def _rel(a, b) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def _grid_weight(n=64, k=128, seed=0):
    """A Q4_K-like matrix: each group of 32 sits on 16 evenly spaced levels (scale, minimum),
    and, as in real GGUF blocks, does not always use the lowest and highest level."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(2, 14, (n, k // 32, 32), generator=g).float()
    scale = torch.rand(n, k // 32, 1, generator=g) * 0.01 + 0.001
    low = -torch.rand(n, k // 32, 1, generator=g) * 0.05
    return (q * scale + low).reshape(n, k).to(torch.bfloat16)


# The test's own way to quantise a whole model and reload it from saved buffers (the product
# prepares its layers straight from the GGUF: rag.llm.transformers.prepare).
def quantize_model(model):
    state = {}
    for name in quant.targets(model):
        layer = quant.QuantLinear.from_linear(model.get_submodule(name))
        quant._replace(model, name, layer)
        state[name] = layer.tensors()
    return state


def load_quantized(model, state):
    for name in quant.targets(model):
        quant._replace(model, name, quant.QuantLinear(state[name]))


def test_four_bit_grid_is_packed_as_int4_and_stays_exact():
    w = _grid_weight()
    layer = quant.QuantLinear.from_linear(_linear(w))
    assert layer.int4
    torch.manual_seed(0)
    for rows in (1, 3):  # decode path: the packed int4 kernel (bf16 output rounding only)
        x = torch.randn(rows, w.shape[1]).to(torch.bfloat16)
        assert _rel(layer(x), F.linear(x.float(), w.float())) < 0.02


def test_gaussian_weights_fall_back_to_int8_close_to_bf16():
    w = (torch.randn(64, 128, generator=torch.Generator().manual_seed(1)) * 0.02).to(torch.bfloat16)
    layer = quant.QuantLinear.from_linear(_linear(w, bias=True))
    assert not layer.int4  # 4 bits would lose ~8 % here
    torch.manual_seed(0)
    for kernel in ("bf16", "fp32", "int_mm"):
        layer.prefill_kernel = kernel
        for rows in (1, 24):  # decode (int8 kernel) and prompt paths
            x = torch.randn(2, rows, 128).to(torch.bfloat16)
            ref = F.linear(x.float(), w.float(), layer.bias.float())
            out = layer(x)
            assert out.shape == (2, rows, 64)
            if kernel == "int_mm" and rows > 1 and _rel(out, ref) >= 0.03:
                # AVX2 builds of torch._int_mm saturate: the probe must then refuse the kernel
                assert "wrong results" in kernels.probe(1).notes["int_mm"]
            else:
                assert _rel(out, ref) < 0.03, kernel


def test_tiny_qwen_quantised_matches_and_reloads_from_cache(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.Qwen2Config(
        vocab_size=256,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    model = transformers.Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    ids = torch.randint(0, 256, (1, 24))
    with torch.inference_mode():
        ref = model(ids).logits
        state = quantize_model(model)
        out = model(ids).logits
    assert len(state) == 2 * 7 + 1 and all(
        isinstance(m, quant.QuantLinear)
        for m in (
            model.lm_head,
            model.model.layers[0].self_attn.q_proj,
            model.model.layers[1].mlp.down_proj,
        )
    )
    assert _rel(out, ref) < 0.05
    measured = kernels.probe(1)
    valid = [k for k in kernels.INT8_KERNELS if measured.prefill[k] > 0]  # right on this CPU
    int8 = valid[0] if valid else "int_mm"
    choice = _choice(int8)
    quant.set_prompt_kernels(model, "int8", choice)
    if valid:
        with torch.inference_mode():
            assert _rel(model(ids).logits, ref) < 0.1
    quant.set_prompt_kernels(model, "mixed", choice)
    layers = dict(model.named_modules())
    assert (
        layers["model.layers.0.mlp.up_proj"].int8_prefill
        and not layers["model.layers.0.mlp.down_proj"].int8_prefill
    )
    if valid:
        with torch.inference_mode():
            assert _rel(model(ids).logits, ref) < 0.1
    if int8 == "onednn":
        assert layers["model.layers.0.mlp.up_proj"].packed is not None
        assert layers["model.layers.0.mlp.down_proj"].packed is None  # its prompts stay bf16
        assert layers["lm_head"].packed is None  # prompts compute one position of it
    quant.set_prompt_kernels(model, "mixed", _choice(int8, pays=False))  # float beats int8 here
    assert not any(getattr(m, "int8_prefill", False) for m in model.modules())
    quant.set_prompt_kernels(model, "bf16", choice)
    assert not any(getattr(m, "int8_prefill", False) for m in model.modules())
    assert not any(getattr(m, "packed", None) is not None for m in model.modules())

    torch.save(state, tmp_path / "q.pt")
    fresh = transformers.Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
    fresh.load_state_dict(model.state_dict(), strict=False)  # embeddings and norms
    load_quantized(fresh, torch.load(tmp_path / "q.pt", mmap=True, weights_only=True))
    with torch.inference_mode():
        assert torch.equal(fresh(ids).logits, out)
        quant.set_prompt_kernels(
            fresh, "mixed", choice, tmp_path / "q.pt"
        )  # packs, gives pages back
        if valid:
            assert _rel(fresh(ids).logits, ref) < 0.1
        quant.set_prompt_kernels(fresh, "bf16", choice)  # reads the released int8 weights again
        assert torch.equal(fresh(ids).logits, out)
    summary = quant.summary(fresh)
    assert summary["int4_layers"] + summary["int8_layers"] == 15


def _choice(int8: str, pays: bool = True) -> kernels.KernelChoice:
    """A kernel choice with int8 prompts through `int8`, faster than bf16 unless not `pays`."""
    rates = {"onednn": 0.0, "int_mm": 0.0, "bf16": 1.0, "fp32": 0.5}
    rates[int8] = 2.0 if pays else 0.5
    return kernels.KernelChoice(
        key="t",
        cpu="t",
        flags=[],
        capability="t",
        torch="t",
        threads=1,
        prefill=rates,
        int8=int8,
        float="bf16",
    )


def _linear(w, bias=False):
    layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias).to(torch.bfloat16)
    with torch.no_grad():
        layer.weight.copy_(w)
    return layer


def test_prompt_path_reuses_one_scratch_buffer_and_matches_fresh_dequantisation():
    w = (torch.randn(96, 64, generator=torch.Generator().manual_seed(2)) * 0.02).to(torch.bfloat16)
    small = quant.QuantLinear.from_linear(_linear(w, bias=True))
    big = quant.QuantLinear.from_linear(_linear(torch.cat([w, w]), bias=True))
    x = torch.randn(8, 64).to(torch.bfloat16)
    for layer in (big, small, big):
        ref = F.linear(x, layer.w8.to(torch.bfloat16) * layer.s8[:, None]) + layer.bias
        assert torch.equal(layer(x), ref)  # identical arithmetic to a fresh dequantised weight
    first = quant._scratch.bufs[torch.bfloat16]
    small(x)
    assert quant._scratch.bufs[torch.bfloat16] is first  # no new allocation per layer
    seen = []
    thread = __import__("threading").Thread(
        target=lambda: (small(x), seen.append(quant._scratch.bufs[torch.bfloat16]))
    )
    thread.start()
    thread.join()
    assert seen[0] is not first  # each thread has its own buffer


@pytest.mark.parametrize("grid", [False, True])
def test_onednn_prompt_path_matches_the_int_mm_path(grid):
    w = _grid_weight(96, 128, seed=3) if grid else (torch.randn(96, 128) * 0.02).to(torch.bfloat16)
    layer = quant.QuantLinear.from_linear(_linear(w, bias=True))
    layer.prefill_kernel = "int_mm"
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(40, 128, generator=g) * torch.rand(40, 1, generator=g) * 20).to(torch.bfloat16)
    decoded = layer(x[:3])  # rows <= DECODE_ROWS: the packed int4 / int8 decode kernels
    if not layer.pack():
        pytest.skip("this torch build has no oneDNN quantised linear agreeing with torch._int_mm")
    plain = layer(x)  # torch._int_mm, scaled afterwards
    layer.prefill_kernel = "onednn"
    packed = layer(x)
    ref = F.linear(x.float(), w.float(), layer.bias.float())
    assert packed.dtype == torch.bfloat16 and not torch.equal(packed, plain)  # another kernel ran
    assert _rel(packed, plain) < 0.01 and _rel(packed, ref) < 0.03
    assert torch.equal(layer(x[:3]), decoded)  # decoding does not use the packed weights


def _resident_kb(address: int) -> int:
    """Rss of the mapping holding `address`, from /proc/self/smaps."""
    found = False
    for line in open("/proc/self/smaps"):
        head = line.split()
        if "-" in head[0] and not head[0].endswith(":"):
            low, high = (int(x, 16) for x in head[0].split("-"))
            found = low <= address < high
        elif found and head[0] == "Rss:":
            return int(head[1])
    raise AssertionError("address not mapped")


@pytest.mark.skipif(
    not __import__("sys").platform.startswith("linux"), reason="madvise and /proc are Linux's"
)
def test_released_pages_of_a_mapped_weight_come_back_and_other_memory_is_untouched(tmp_path):
    torch.save({"w": torch.arange(3_000_000, dtype=torch.int32)}, tmp_path / "w.pt")
    mapped = torch.load(tmp_path / "w.pt", mmap=True, weights_only=True)["w"]
    total = int(mapped.sum())  # reads every page
    before = _resident_kb(mapped.data_ptr())
    assert not quant.release_pages(mapped, tmp_path / "other.pt")  # another file: not touched
    assert quant.release_pages(mapped, tmp_path / "w.pt")
    assert _resident_kb(mapped.data_ptr()) < before - 10_000  # ~11.7 MB left the resident set
    assert int(mapped.sum()) == total  # read back from the file
    anonymous = torch.arange(3_000_000, dtype=torch.int32)
    assert not quant.release_pages(anonymous, tmp_path / "w.pt")  # madvise would zero it
    assert int(anonymous.sum()) == total
