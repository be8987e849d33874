"""rag.llm.transformers.kernels: each kernel measured and checked on this CPU, the choice cached, auto's engine."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from rag.core.settings import Settings
from rag.llm import auto
from rag.llm.transformers import kernels, rates


@pytest.fixture(scope="module")
def measured() -> kernels.KernelChoice:
    return kernels.probe(2)


def test_the_probe_measures_every_kernel_quickly_and_picks_the_fastest_valid_one(measured):
    assert set(measured.prefill) == set(kernels.PREFILL_KERNELS)
    assert set(measured.decode) == set(kernels.DECODE_KERNELS)
    assert measured.prefill["fp32"] > 0 and measured.decode["int8"] > 0  # always available
    assert measured.float == max(kernels.FLOAT_KERNELS, key=measured.prefill.get)
    assert measured.int8 == max(kernels.INT8_KERNELS, key=measured.prefill.get)
    assert measured.probe_s < 5  # "well under a second" where kernels are fast; bounded where not
    for name, note in measured.notes.items():  # a kernel that was wrong is never chosen
        if "wrong" in note:
            assert measured.prefill[name] == 0 and measured.prompt_kernel(True) != name


def test_a_busy_machine_screens_out_the_same_kernels(measured, monkeypatch):
    """Call overhead (a busy machine) slows the small shape for every kernel alike: the screen is a
    ratio against fp32 in the same run, so it skips the same kernels as on a quiet machine (an
    absolute screen skipped every fast kernel of an AMX Xeon probed while the tests ran)."""
    real = rates.small_rate
    monkeypatch.setattr(rates, "small_rate", lambda *a: real(*a) / 20)
    busy = kernels.probe(2)
    skipped = lambda c: {k for k, note in c.notes.items() if "not run on the big one" in note}  # noqa: E731
    assert skipped(busy) == skipped(measured)
    assert busy.prompt_kernel(True) == measured.prompt_kernel(True)


def test_the_prediction_follows_the_kernels(measured):
    fast = kernels.KernelChoice(
        **{**measured.__dict__, "prefill": dict.fromkeys(kernels.PREFILL_KERNELS, 1000.0)}
    )
    slow = kernels.KernelChoice(
        **{**measured.__dict__, "prefill": dict.fromkeys(kernels.PREFILL_KERNELS, 10.0)}
    )
    assert slow.predict()["first_token_s"] == pytest.approx(100 * fast.predict()["first_token_s"])
    assert fast.predict()["decode_tps"] == pytest.approx(slow.predict()["decode_tps"])
    assert any("chosen: prompts" in line for line in measured.lines())


def test_float_wins_where_int8_is_slower():
    c = kernels.KernelChoice(
        key="k",
        cpu="c",
        flags=[],
        capability="AVX2",
        torch="t",
        threads=2,
        prefill={"onednn": 0.1, "int_mm": 0.0, "bf16": 40.0, "fp32": 70.0},
        int8="onednn",
        float="fp32",
    )
    assert not c.int8_pays and c.prompt_kernel(True) == "fp32" and c.prompt_kernel(False) == "fp32"


def test_the_choice_is_cached_per_machine_and_a_damaged_cache_is_measured_again(
    tmp_path, monkeypatch
):
    calls = []
    real = kernels.probe
    monkeypatch.setattr(kernels, "probe", lambda threads: calls.append(threads) or real(threads))
    first = kernels.cached_choice(tmp_path, 2)
    again = kernels.cached_choice(tmp_path, 2)
    assert calls == [2] and again == first
    path = tmp_path / f"kernels-{first.key}.json"
    assert json.loads(path.read_text())["key"] == first.key
    path.write_text("{not json")
    kernels.cached_choice(tmp_path, 2)
    assert calls == [2, 2]
    assert kernels.machine_key(1)[0] != kernels.machine_key(2)[0]  # threads are part of the key


def test_auto_keeps_transformers_when_llamacpp_cannot_be_measured(tmp_path, monkeypatch):
    def broken(settings):
        raise RuntimeError("no such engine")

    monkeypatch.setattr(auto, "measure_llamacpp", broken)
    choice = auto.choose_backend(Settings(model_cache=tmp_path))
    assert choice.backend["chosen"] == "transformers"
    assert "llama.cpp not measurable: RuntimeError: no such engine" in choice.backend["why"]


@pytest.mark.parametrize("llama_answer_s, chosen", [(1e-3, "llamacpp"), (1e6, "transformers")])
def test_auto_takes_llamacpp_only_when_it_is_clearly_faster(
    tmp_path, monkeypatch, llama_answer_s, chosen
):
    monkeypatch.setattr(
        auto,
        "measure_llamacpp",
        lambda s: {
            "first_token_s": llama_answer_s,
            "decode_tps": 1.0,
            "answer_s": llama_answer_s,
            "prompt_tps": 1.0,
        },
    )
    choice = auto.choose_backend(Settings(model_cache=tmp_path))
    assert choice.backend["chosen"] == chosen
    cached = kernels.cached_choice(tmp_path, 2)
    assert cached.backend["chosen"] == chosen  # remembered for the next start


def test_the_prepared_folder_is_keyed_by_the_cpu_capability(tmp_path):
    """torch packs int4 weights differently per CPU capability: weights packed under AVX2 decoded
    to garbage with the AVX-512 kernels, so each capability gets its own prepared folder."""
    from rag.llm.transformers.prepare import folder_name

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    names = {folder_name(gguf, "2.13.0+cpu", cap) for cap in ("AVX2", "AVX512", "DEFAULT")}
    assert len(names) == 3 and all("torch2.13.0+cpu" in n for n in names)
    q = torch.randint(
        0, 16, (64, 64), dtype=torch.int32, generator=torch.Generator().manual_seed(0)
    )
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2)  # this process's layout
    assert packed.dtype == torch.uint8 and packed.shape == (64, 32)


@pytest.mark.model
def test_llamacpp_is_measured_in_a_child_process_with_its_own_timings():
    import os
    import threading
    from pathlib import Path

    cache = Path(os.environ.get("RAG_TEST_MODEL_CACHE", Path.home() / ".cache" / "rag-news"))
    before = set(threading.enumerate())
    measured = auto.measure_llamacpp(Settings(model_cache=cache))
    assert measured["prompt_tps"] > 1 and measured["decode_tps"] > 1
    assert measured["answer_s"] == pytest.approx(
        measured["first_token_s"] + kernels.ANSWER_TOKENS / measured["decode_tps"]
    )
    # nothing of llama.cpp left in this process (a thread an earlier test left may have ended)
    assert set(threading.enumerate()) <= before
