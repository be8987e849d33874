"""PromptCache: which recent prompt's keys and values a new prompt reuses, and how many."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from transformers import DynamicCache

from rag.llm.transformers.prompt_cache import (
    MIN_NEW,
    MIN_SHARED,
    PromptCache,
    piece_starts,
    shared_prefix,
)

LAYERS = 2


def filled(ids: list[int], extra: int = 0) -> DynamicCache:
    """A cache whose keys at position i hold the token id ids[i] (then `extra` generated ones)."""
    cache = DynamicCache()
    values = torch.tensor(ids + [-1] * extra, dtype=torch.float32).view(1, 1, -1, 1)
    for layer in range(LAYERS):
        cache.update(values + layer, -values, layer)
    return cache


def positions(cache: DynamicCache, layer: int = 0) -> list[int]:
    return [int(x) for x in (cache.layers[layer].keys.flatten() - layer)]


def test_shared_prefix():
    assert shared_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert shared_prefix([], [1]) == 0
    assert shared_prefix([7, 8], [7, 8]) == 2


def test_a_new_prompt_gets_the_longest_shared_prefix_and_keeps_its_tail_to_compute():
    store = PromptCache(max_tokens=1000)
    system = list(range(100, 120))
    a = system + [1, 2, 3, 4] + list(range(MIN_NEW))
    b = system + [1, 2, 9, 9, 9] + list(range(MIN_NEW))
    store.put(a, filled(a, extra=5))  # the generated tokens are not kept
    store.put(b, filled(b))
    asked = system + [1, 2, 9, 9, 7] + list(range(MIN_NEW))
    cache, n = store.take(asked, DynamicCache)
    assert n == len(system) + 4 and positions(cache) == (system + [1, 2, 9, 9])
    assert positions(cache, layer=1) == positions(cache)  # every layer, its own values
    cache, n = store.take(a, DynamicCache)  # the same prompt again: its last MIN_NEW recomputed
    assert n == len(a) - MIN_NEW and positions(cache) == a[:-MIN_NEW]


def test_taking_copies_so_the_store_is_not_changed_by_generation():
    store = PromptCache(max_tokens=1000)
    a = list(range(40))
    store.put(a, filled(a))
    cache, n = store.take(a + list(range(MIN_NEW)), DynamicCache)
    cache.layers[0].keys.mul_(0)  # written in place, before and after a new token
    cache.update(torch.zeros(1, 1, 3, 1), torch.zeros(1, 1, 3, 1), 0)
    cache.layers[0].keys.mul_(0)
    again, _ = store.take(a + list(range(MIN_NEW)), DynamicCache)
    assert n == 40 and positions(again) == a


def test_a_stored_cache_is_a_copy_of_the_one_generation_goes_on_with():
    store = PromptCache(max_tokens=1000)
    a = list(range(40))
    cache = filled(a)
    store.put(a, cache)
    cache.layers[0].keys.mul_(0)  # generation keeps writing into its own cache
    assert positions(store.take(a + list(range(MIN_NEW)), DynamicCache)[0]) == a


def test_works_with_rag_decode_caches_through_decoding():
    from transformers import Qwen2Config

    from rag.llm.transformers.decode import DecodeCache

    config = Qwen2Config(
        num_hidden_layers=2,
        hidden_size=8,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=16,
        vocab_size=32,
    )
    store = PromptCache(max_tokens=1000)
    prompt = list(range(40))
    cache = DecodeCache(config)
    for layer in range(2):
        cache.update(
            torch.tensor(prompt, dtype=torch.float32).view(1, 1, -1, 1) + layer,
            torch.zeros(1, 1, 40, 1),
            layer,
        )
    for _step in range(200):  # decode steps: in-place writes into buffers that regrow
        for layer in range(2):
            cache.update(torch.full((1, 1, 1, 1), -1.0), torch.zeros(1, 1, 1, 1), layer)
    store.put(prompt, cache)
    taken, n = store.take(prompt + list(range(MIN_NEW)), lambda: DecodeCache(config))
    for _step in range(300):
        taken.update(torch.full((1, 1, 1, 1), -2.0), torch.zeros(1, 1, 1, 1), 0)
    taken.layers[0].keys.mul_(0)
    again, _ = store.take(prompt + list(range(MIN_NEW)), lambda: DecodeCache(config))
    assert n == 40 and positions(again) == prompt and positions(again, layer=1) == prompt


def test_sliding_window_caches_are_not_kept():
    from transformers import MistralConfig

    config = MistralConfig(
        num_hidden_layers=1,
        hidden_size=8,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=16,
        vocab_size=32,
        sliding_window=8,
    )
    cache = DynamicCache(config=config)
    prompt = list(range(40))
    cache.update(
        torch.tensor(prompt, dtype=torch.float32).view(1, 1, -1, 1), torch.zeros(1, 1, 40, 1), 0
    )
    store = PromptCache(max_tokens=1000)
    store.put(prompt, cache)  # the layer holds only the last tokens, not the prefix
    assert len(store) == 0


def test_too_little_shared_reuses_nothing():
    store = PromptCache(max_tokens=1000)
    a = list(range(MIN_SHARED - 1)) + [500] * 40
    store.put(a, filled(a))
    cache, n = store.take(list(range(MIN_SHARED - 1)) + [7] * 40, DynamicCache)
    assert n == 0 and cache.get_seq_length() == 0


def test_least_recently_used_prompts_go_first_when_over_the_token_budget():
    store = PromptCache(max_tokens=100)
    prompts = [[k] * 40 for k in (1, 2, 3)]
    store.put(prompts[0], filled(prompts[0]))
    store.put(prompts[1], filled(prompts[1]))
    tail = [0] * MIN_NEW
    store.take(prompts[0] + tail, DynamicCache)  # prompt 1 used again: prompt 2 is now the oldest
    store.put(prompts[2], filled(prompts[2]))
    assert len(store) == 2 and store.tokens == 80
    assert store.take(prompts[1] + tail, DynamicCache)[1] == 0
    assert store.take(prompts[0] + tail, DynamicCache)[1] == 40


def test_a_prompt_over_the_budget_or_an_unfinished_cache_is_not_kept():
    store = PromptCache(max_tokens=30)
    store.put(list(range(31)), filled(list(range(31))))
    store.put(
        list(range(20)), filled(list(range(10)))
    )  # generation stopped before the prompt ended
    assert len(store) == 0


def test_prefill_pieces_are_the_system_turn_then_fixed_steps():
    assert piece_starts(700, 180, 256) == [180, 436, 692]
    assert piece_starts(700, 0, 256) == [256, 512]
    assert piece_starts(700, 180, 0) == [180]  # the rest in one piece
    assert piece_starts(150, 180, 256) == [] and piece_starts(180, 180, 64) == []


def test_a_cache_is_reused_only_up_to_where_a_piece_starts():
    store = PromptCache(max_tokens=1000)
    a = list(range(100))
    store.put(a, filled(a))
    asked = a[:70] + [999] * 40  # 70 tokens shared
    starts = piece_starts(len(asked), 20, 16)  # 20, 36, 52, 68, 84, 100
    cache, n = store.take(asked, DynamicCache, starts)
    assert n == 68 and positions(cache) == a[:68]  # not 70: the piece from 68 is computed whole
    cache, n = store.take(a, DynamicCache, piece_starts(len(a), 20, 16))  # the same prompt again
    assert n == 84 and positions(cache) == a[:84]  # its last piece recomputed
    assert store.take(asked, DynamicCache, [])[1] == 0
