"""Real-model tests of the transformers backend (slow: they load the bundled 1.5B model).

    pytest -m model tests/test_hf_model.py

Model cache: `RAG_TEST_MODEL_CACHE` if set, else `~/.cache/rag-news`, the cache the app itself
uses. Sharing it on purpose: the one-time GGUF -> bf16 conversion (~1-2 min, 3.5 GB on disk) is
then done once per machine, not once per test run or twice in CI. Point RAG_TEST_MODEL_CACHE at an
empty folder to test a cold start. The offline environment is set by conftest.py.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rag.core.errors import ModelError
from rag.core.settings import Settings
from rag.llm.transformers.model import TransformersLLM
from rag.llm.transformers.prompt_cache import piece_starts, shared_prefix

pytestmark = pytest.mark.model

MODEL_CACHE = Path(os.environ.get("RAG_TEST_MODEL_CACHE", Path.home() / ".cache" / "rag-news"))

MESSAGES = [
    {"role": "system", "content": "Réponds brièvement, uniquement d'après le passage."},
    {
        "role": "user",
        "content": (
            "[1] Donald Trump s'est entretenu jeudi au téléphone avec Vladimir Poutine et lui "
            "aurait demandé de ne pas provoquer d'escalade en Ukraine, rapporte dimanche le "
            "quotidien américain Washington Post. L'entourage de Trump n'a pas confirmé.\n\n"
            "Question : Quel journal a rapporté l'appel ?"
        ),
    },
]


@pytest.fixture(scope="module")
def llm() -> TransformersLLM:
    model = TransformersLLM(Settings(model_cache=MODEL_CACHE, model_file=None, threads=2))
    model.load()
    return model


def test_streams_the_answer_found_in_the_passage(llm):
    pieces = list(llm.stream(MESSAGES, max_new_tokens=24))
    assert len(pieces) > 1, pieces
    assert "Washington Post" in "".join(pieces)
    assert llm.model_path is not None and llm.model_path.is_dir()
    assert llm.load_seconds is not None and llm.load_seconds > 0


def test_choose_walks_the_options_the_model_prefers_and_measures_the_abstention(llm):
    options = ["Le Washington Post", "Le Kremlin", "L'AFP"]  # two share their first token
    probs = llm.choose(MESSAGES, options, "NONE")
    assert set(probs) == {*options, "NONE"} and sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert (
        max(probs, key=probs.get) == "Le Washington Post" and probs["Le Washington Post"] > 0.5
    ), probs
    # a question the passage does not answer: more weight on NONE than for the answered one
    unanswered = [
        MESSAGES[0],
        {
            "role": "user",
            "content": MESSAGES[1]["content"].replace(
                "Quel journal a rapporté l'appel ?",
                "Quel journal a démenti l'appel ? Réponds NONE si le passage ne le dit pas.",
            ),
        },
    ]
    assert llm.choose(unanswered, options, "NONE")["NONE"] > probs["NONE"]
    # and generation is unchanged after the walk (its cache entry is the prompt only)
    assert "Washington Post" in "".join(llm.stream(MESSAGES, max_new_tokens=24))


def test_concurrent_streams_take_turns_on_the_model(llm):
    answers: list[str] = []

    def ask() -> None:
        answers.append("".join(llm.stream(MESSAGES, max_new_tokens=24)))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 2 and answers[0] == answers[1]  # greedy, not interleaved
    assert "Washington Post" in answers[0]


def test_a_closed_stream_frees_the_model(llm):
    stream = llm.stream(MESSAGES, max_new_tokens=24)
    next(stream)
    with pytest.raises(ModelError, match="still open"):
        next(llm.stream(MESSAGES, max_new_tokens=4))
    stream.close()  # stops generation and releases the model
    assert "".join(llm.stream(MESSAGES, max_new_tokens=24))


def test_reusing_a_recent_prompts_cache_changes_nothing_but_the_work(llm):
    other = [
        MESSAGES[0],
        {
            "role": "user",
            "content": MESSAGES[1]["content"].replace(
                "Quel journal a rapporté l'appel ?", "Quel jour a eu lieu l'appel ?"
            ),
        },
    ]
    llm.prompts.clear()
    llm.systems.clear()
    llm.settings = llm.settings.updated(prefix_cache=False, prefill_chunk=32)
    plain = ["".join(llm.stream(m, max_new_tokens=24)) for m in (MESSAGES, other)]
    assert len(llm.prompts) == 0 and llm.reused_tokens == 0
    llm.settings = llm.settings.updated(prefix_cache=True)
    first = "".join(
        llm.stream(MESSAGES, max_new_tokens=24)
    )  # the system turn's cache, then the rest
    system = llm.count_tokens(MESSAGES[:1]) - 3  # without the reply header
    assert llm.reused_tokens == 0 and len(llm.prompts) == 1 and len(llm.systems) == 1
    again = "".join(llm.stream(MESSAGES, max_new_tokens=24))  # all but its last piece reused
    ids = [
        llm._tokenizer.apply_chat_template(m, add_generation_prompt=True, return_dict=True)[
            "input_ids"
        ]
        for m in (MESSAGES, other)
    ]
    assert llm.reused_tokens == piece_starts(len(ids[0]), system, 32)[-1] > system
    follow = "".join(llm.stream(other, max_new_tokens=24))  # the passage reused, not the question
    expected = max(p for p in piece_starts(len(ids[1]), system, 32) if p <= shared_prefix(*ids))
    assert llm.reused_tokens == expected > system + 20  # more than the system turn
    assert plain == [first, follow] and first == again and "Washington Post" in first
    # Not only the text: the next-token logits are the same to the bit, with the cache reused
    # and without (split anywhere else, they differed by up to 0.125 and flipped near ties).
    reused = llm._torch.submit(_last_logits, llm, other, ids[1]).result()
    llm.prompts.clear()
    llm.systems.clear()
    fresh = llm._torch.submit(_last_logits, llm, other, ids[1]).result()
    assert torch_equal(fresh, reused)


def _last_logits(llm, messages, ids):
    """The next-token logits of `ids` after the cache the backend builds for them."""
    import torch

    with torch.inference_mode():
        cache, _ = llm._cache_for(messages, ids)
        rest = torch.tensor([ids[cache.get_seq_length() :]])
        return (
            llm._model(rest, past_key_values=cache, use_cache=True, logits_to_keep=1)
            .logits[0, -1]
            .float()
        )


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_prepared_weights_are_the_gguf_blocks_and_run_the_measured_kernels(llm):
    import gguf
    import numpy as np
    import torch

    from rag.llm.transformers.quant import QuantLinear

    reader = gguf.GGUFReader(llm.gguf_path)
    tensors = {t.name: t for t in reader.tensors}
    x = torch.randn(1, 1536, generator=torch.Generator().manual_seed(0)).bfloat16()
    for gguf_name, module in [
        ("blk.0.ffn_gate.weight", llm._model.model.layers[0].mlp.gate_proj),
        ("blk.5.attn_q.weight", llm._model.model.layers[5].self_attn.q_proj),
    ]:
        t = tensors[gguf_name]
        weight = torch.from_numpy(
            np.array(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        )
        assert module.int4  # a Q4_K matrix: packed from its own blocks
        bias = None if module.bias is None else module.bias.float()
        ref = torch.nn.functional.linear(x.float(), weight, bias)
        module.decode_kernel = "int4"
        error = ((module(x).float() - ref).norm() / ref.norm()).item()
        module.decode_kernel = llm.kernels.decode_kernel
        assert error < 0.01, (gguf_name, error)  # bf16 rounding of scales and output only
    layers = [m for m in llm._model.modules() if isinstance(m, QuantLinear)]
    assert len(layers) == 28 * 7 + 1
    assert {m.decode_kernel for m in layers} == {llm.kernels.decode_kernel}
    assert {m.prefill_kernel for m in layers} <= {llm.kernels.int8, llm.kernels.float}
    assert llm.quantized_path is not None and (llm.quantized_path / "layer-27.pt").is_file()
