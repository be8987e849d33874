"""The transformers generation backend: the bundled GGUF run by PyTorch on CPU.

By default (`quantize`) the model is prepared once straight from the GGUF's blocks into int4/int8
weights (rag.llm.transformers.prepare) and run with the kernels this CPU does fastest
(rag.llm.transformers.kernels); with `quantize=False`, transformers' own GGUF loader converts it
once into a plain bf16 folder. The cache layout (`settings.generation.model_cache`):

    qwen2.5-coder-1.5b-instruct-q4_k_m.gguf             joined from the parts (rag.llm.weights)
    qwen2.5-coder-1.5b-instruct-q4_k_m.gguf.verified    size + mtime of the hashed file
    qwen-1.5b-q-cc324af070c2-v1-torch2.13.0+cpu-avx512/ prepared int4/int8 model (prepare.py)
    kernels-<machine key>.json                          this CPU's measured kernel choice
    qwen-1.5b-bf16-cc324af070c2-tf5.23.0/               bf16 folder (quantize=False only)

Folder names carry the GGUF's identity and the library version whose layout they hold, so a new
GGUF or an upgrade prepares again instead of loading a stale folder.
torch and transformers are imported here only, and only when the model is first used.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from rag.core.errors import ModelError
from rag.core.settings import Settings
from rag.llm.base import LLM, Message, every_option
from rag.llm.transformers import load
from rag.llm.transformers.choose import walk
from rag.llm.transformers.convert import one_line
from rag.llm.transformers.prompt_cache import MIN_SHARED, PromptCache, piece_starts
from rag.llm.weights import JOIN_SHARE, bundled_gguf


class TransformersLLM(LLM):
    """Greedy streaming generation with one model shared by all callers (one stream at a time).

    Example:
    `"".join(TransformersLLM(Settings()).stream([{"role": "user", "content": "Bonjour"}], 20))`
    """

    name = "transformers"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gguf_path: Path | None = None  # the source GGUF
        self.model_path: Path | None = None  # the bf16 folder actually loaded, for display
        self.load_seconds: float | None = None  # wall time of load(), conversion included
        self.converted = False  # True when this load() had to convert the GGUF
        self.quantized_path: Path | None = None  # the prepared int4/int8 folder, when quantised
        self.kernels: Any = (
            None  # rag.llm.transformers.kernels.KernelChoice this load used (quantised only)
        )
        # Called with (fraction 0..1, step) while a first start prepares the model (the app
        # shows it); None: a progress bar on the terminal.
        self.progress: Any = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._stop_ids: list[int] = []
        self.prompts = PromptCache(
            settings.advanced.prompt_cache_tokens
        )  # recent prompts' KV caches
        self.systems = PromptCache(4096)  # system prompts' KV caches, kept whatever the above holds
        self.reused_tokens = 0  # prompt tokens the last generation took from a cache
        self._lock = threading.Lock()  # one generation (or load) at a time on the shared model
        # Every torch call runs on this one long-lived thread. libgomp gives each thread that
        # starts parallel work its own team of threads; with a second team in the process (a
        # fresh thread per answer, or the caller's), decoding ran markedly slower (measured:
        # docs/results/2026-11-22-speed-one-thread.md).
        self._torch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-torch")
        self._owner: int | None = None  # thread holding the lock, to refuse self-deadlock

    def load(self) -> None:
        """Load the model now (stream() does it on first use). Raises ModelError on any failure."""
        with self._locked():
            self._torch.submit(self._ensure_loaded).result()

    def prime(self, conversations: list[list[Message]]) -> None:
        """Generate one token for each conversation and discard it: computes their system
        prompts' KV caches now and pays the first long prompt's one-off costs (heap growth,
        kernel set-up) before a user waits on them."""
        for messages in conversations:
            for _ in self.stream(messages, 1):
                pass

    def stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        """Yield the reply piece by piece as it is generated (greedy, special tokens dropped).

        The model is held for the whole stream: consume or `close()` the iterator before starting
        another from the same thread (doing otherwise raises ModelError instead of deadlocking).
        Closing early stops generation within one token.
        """
        with self._locked():
            self._torch.submit(self._ensure_loaded).result()
            yield from self._generate(messages, max_new_tokens)

    def choose(
        self, messages: list[Message], options: list[str], abstain: str | None = None
    ) -> dict[str, float]:
        """Greedy decoding constrained to the options (each one's tokens, then end of turn),
        renormalised at each step over the tokens some option still allows, and stopped as
        soon as one option is left: one prefill, then one decode step per token the options
        still share (a sentence copied word for word is told apart in its first few tokens).

        The option reached gets the probability of its path; each option left behind gets an
        equal share of the probability of the branch it was on when the walk left it (exact for
        an option that branched off alone, like "NONE" at the first step). `abstain`: one more
        option whose probability is measured at the first step but which the walk never takes
        (so that a reply the model hedges with still names its best option)."""
        with self._locked():
            self._torch.submit(self._ensure_loaded).result()
            return self._torch.submit(self._choose, messages, list(options), abstain).result()

    def _choose(
        self, messages: list[Message], options: list[str], abstain: str | None = None
    ) -> dict[str, float]:
        import torch

        torch.set_num_threads(self.settings.generation.threads)
        tok, model = self._tokenizer, self._model
        ids = list(
            tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)[
                "input_ids"
            ]
        )
        end = tok.get_vocab().get("<|im_end|>", tok.eos_token_id)
        every = every_option(options, abstain)
        seqs = {o: (*tok(o, add_special_tokens=False)["input_ids"], end) for o in every}
        cache, _ = self._cache_for(messages, ids)
        share = walk(model, cache, ids[cache.get_seq_length() :], seqs, abstain)
        if self._keeps_prompts():  # the prompt, for a next request that starts alike
            with contextlib.suppress(RuntimeError, MemoryError):  # a copy failed: time only
                _crop_to(cache, len(ids))
                self.prompts.put(ids, cache)
        return {o: share[o] for o in every}

    def _cache_for(self, messages: list[Message], ids: list[int]) -> tuple[Any, int]:
        """A KV cache holding `ids` up to where its last prefill piece starts (the rest is the
        caller's prefill), and how many tokens of it came from a recent prompt or the system
        turn's cache. The pieces are fixed by the prompt alone (`piece_starts`: the system turn,
        then `prefill_chunk` tokens at a time, or the rest in one when it is 0), so a prompt gets
        the same keys and values, bit for bit, whatever was asked before it
        (rag.llm.transformers.prompt_cache)."""
        import torch

        keep = self.settings.advanced.prefix_cache
        system = self._system_tokens(messages, ids)
        starts = piece_starts(len(ids), system, self.settings.advanced.prefill_chunk)
        cache, reused = self._new_cache(), 0
        if self._keeps_prompts():
            cache, reused = self.prompts.take(ids, self._new_cache, starts)
        if system and reused < system and keep:
            cache, reused = self.systems.take(ids, self._new_cache, [system])
        done = reused
        with torch.inference_mode():
            for begin, end in zip([0, *starts], starts, strict=False):  # pairs of piece bounds
                if begin < done:
                    continue
                self._model(
                    input_ids=torch.tensor([ids[begin:end]]),
                    past_key_values=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
                done = end
                if end == system and keep:
                    self.systems.put(
                        ids[:system], cache
                    )  # a copy: generation extends `cache` itself
        return cache, reused

    def _keeps_prompts(self) -> bool:
        """Only with pieces is more than the system turn (kept in `systems`) ever reused."""
        return self.settings.advanced.prefix_cache and self.settings.advanced.prefill_chunk > 0

    def _system_tokens(self, messages: list[Message], ids: list[int]) -> int:
        """How many of `ids` are the system turn, when it is worth a piece of its own (0: not)."""
        if not messages or messages[0].get("role") != "system":
            return 0
        system = self._tokenizer.apply_chat_template(messages[:1], return_dict=True)["input_ids"]
        fits = MIN_SHARED <= len(system) < len(ids) and ids[: len(system)] == list(
            system
        )  # not on the rest
        return len(system) if fits else 0

    def _new_cache(self) -> Any:
        """An empty KV cache: with fast_decode, rag.llm.transformers.decode's, whose decode steps
        copy nothing; transformers' own for models it does not fit (sliding-window layers: a GGUF
        given as RAG_MODEL_FILE may have them)."""
        from transformers import DynamicCache

        if self.settings.advanced.fast_decode:
            from rag.llm.transformers.decode import DecodeCache

            try:
                return DecodeCache(self._model.config)
            except ValueError:
                pass
        return DynamicCache(config=self._model.config)

    def count_tokens(self, text: str | list[Message]) -> int:
        """Tokens a text takes, or a conversation as prompted (chat template and reply header
        included). Loads the model if needed."""
        self.load()
        if isinstance(text, str):
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        ids = self._tokenizer.apply_chat_template(
            text, add_generation_prompt=True, return_dict=True
        )
        return len(ids["input_ids"])

    def _locked(self) -> _Hold:
        if self._owner == threading.get_ident():
            raise ModelError(
                "a previous answer stream from this thread is still open: consume or close it first"
            )
        return _Hold(self)

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        start = time.perf_counter()
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise ModelError(
                f"the transformers backend needs {exc.name}: run 'pip install -e .'"
            ) from exc
        torch.set_num_threads(self.settings.generation.threads)
        report = self.progress or load.terminal_progress()
        try:
            join = partial(load.scaled, report, 0.0, JOIN_SHARE)
            self.gguf_path = gguf = bundled_gguf(self.settings, progress=join)
            if self.settings.generation.quantize:  # rag.llm.transformers.load
                loaded = load.quantized(self.settings, torch, report, gguf)
                self.kernels, self.quantized_path = loaded.kernels, loaded.folder
            else:
                loaded = load.bf16(self.settings, transformers, gguf)
            self._model, self._tokenizer, self.model_path = (
                loaded.model,
                loaded.tokenizer,
                loaded.folder,
            )
            self.converted = self.converted or loaded.converted
        finally:
            if hasattr(report, "close"):
                report.close()
            self.progress = None  # a bar is shown once
        if self.settings.advanced.fast_decode:
            from rag.llm.transformers.decode import decode_without_onednn, use_decode_attention

            decode_without_onednn(self._model)
            use_decode_attention(self._model)
        self._stop_ids = load.stop_ids(self._tokenizer, self._model)
        self.load_seconds = time.perf_counter() - start

    def _generate(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        """Run `generate` on the torch thread and relay its text; a failure becomes ModelError."""
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        tok, model = self._tokenizer, self._model
        inputs = tok.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        errors: list[BaseException] = []

        def work() -> None:
            torch.set_num_threads(self.settings.generation.threads)
            try:
                ids = inputs["input_ids"][0].tolist()
                # the system prompt, or more of a recent prompt; all but the last prefill piece
                cache, self.reused_tokens = self._cache_for(messages, ids)
                inputs["past_key_values"] = cache
                with torch.inference_mode():
                    model.generate(
                        **inputs,
                        streamer=streamer,
                        max_new_tokens=max_new_tokens,
                        do_sample=False,
                        temperature=None,
                        top_p=None,
                        top_k=None,
                        stopping_criteria=StoppingCriteriaList([_cancel_criterion(cancel)]),
                        eos_token_id=self._stop_ids,
                        pad_token_id=_first(tok.pad_token_id, tok.eos_token_id),
                    )
                if self._keeps_prompts():
                    with contextlib.suppress(RuntimeError, MemoryError):  # costs time only
                        self.prompts.put(ids, cache)
            except BaseException as exc:  # noqa: BLE001 - relayed to the caller below
                errors.append(exc)
                streamer.end()  # unblocks the consumer loop

        done = self._torch.submit(work)
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            cancel.set()
            done.result()
        if errors:
            raise ModelError(f"generation failed: {one_line(errors[0])}")


class _Hold:
    """Context manager for TransformersLLM's lock that remembers the owning thread."""

    def __init__(self, llm: TransformersLLM) -> None:
        self.llm = llm

    def __enter__(self) -> None:
        self.llm._lock.acquire()
        self.llm._owner = threading.get_ident()

    def __exit__(self, *exc: object) -> None:
        self.llm._owner = None
        self.llm._lock.release()


def _cancel_criterion(event: threading.Event) -> Any:
    """A StoppingCriteria that ends generation once `event` is set (the consumer went away)."""
    import torch
    from transformers import StoppingCriteria

    class Cancel(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), event.is_set(), device=input_ids.device)

    return Cancel()


def _crop_to(cache: Any, n: int) -> None:
    """Keep the first `n` tokens of a KV cache (transformers' crop takes minus how many to drop)."""
    extra = cache.get_seq_length() - n
    if extra > 0:
        cache.crop(-extra)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
