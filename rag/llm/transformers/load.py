"""Loading the bundled GGUF for `TransformersLLM`: the int4/int8 model prepared from its blocks
(rag.llm.transformers.prepare) with this CPU's kernels, or transformers' own bf16 conversion,
each once per GGUF and library version; and the ids that end the model's turn.

torch and transformers are passed in by the caller, which imports them on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rag.core.settings import Settings
from rag.llm.transformers.convert import convert, converted_name, guarded, load_folder
from rag.llm.weights import JOIN_SHARE


@dataclass(frozen=True, kw_only=True)
class Loaded:
    """A loaded model: `folder` the prepared or converted folder it came from; `converted` True
    when this load had to prepare or convert it; `kernels` the KernelChoice (quantised only)."""

    model: Any
    tokenizer: Any
    folder: Path
    converted: bool
    kernels: Any = None


def quantized(settings: Settings, torch: Any, report: Any, gguf: Path) -> Loaded:
    """The int4/int8 model prepared straight from the GGUF (rag.llm.transformers.prepare; once
    per GGUF and torch version), with the kernels this CPU runs fastest
    (rag.llm.transformers.kernels; once per machine)."""
    from rag.llm.transformers import kernels, prepare
    from rag.llm.transformers.quant import set_prompt_kernels

    folder = Path(settings.generation.model_cache).expanduser() / prepare.folder_name(
        gguf, torch.__version__, torch.backends.cpu.get_cpu_capability()
    )
    converted = False
    if not prepare.is_prepared(folder):
        step = partial(scaled, report, JOIN_SHARE, 1.0)
        guarded(lambda: prepare.prepare(gguf, folder, step), gguf)
        converted = True
    report(1.0, "loading")
    model, tokenizer = guarded(lambda: prepare.load(folder), folder)
    choice = kernels.cached_choice(settings.generation.model_cache, settings.generation.threads)
    set_prompt_kernels(model, settings.advanced.prefill, choice, folder)
    return Loaded(
        model=model, tokenizer=tokenizer, folder=folder, converted=converted, kernels=choice
    )


def bf16(settings: Settings, transformers: Any, gguf: Path) -> Loaded:
    """The plain bf16 model (RAG_QUANTIZE=false): transformers' own GGUF conversion, once."""
    folder = Path(settings.generation.model_cache).expanduser() / converted_name(
        gguf, transformers.__version__
    )
    converted = False
    if not (folder / "config.json").is_file():
        convert(gguf, folder)
        converted = True
    model, tokenizer = guarded(lambda: load_folder(folder), folder)
    return Loaded(model=model, tokenizer=tokenizer, folder=folder, converted=converted)


def stop_ids(tok: Any, model: Any) -> list[int]:
    """The model's end-of-turn ids plus Qwen's <|im_end|> / <|endoftext|> where the vocabulary
    has them (the GGUF metadata names only one of them as eos)."""
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured, tok.eos_token_id])
    vocab = tok.get_vocab()
    ids.update(vocab[t] for t in ("<|im_end|>", "<|endoftext|>") if t in vocab)
    return sorted(i for i in ids if i is not None)


def scaled(report: Any, low: float, high: float, fraction: float, what: str) -> None:
    """`report` (fraction 0..1, step) for a step that fills [low, high] of the whole."""
    report(low + (high - low) * fraction, what)


def terminal_progress() -> Any:
    """A progress bar on the terminal, shown once the work takes a while."""
    from rag.llm.transformers.prepare import LazyTerminalProgress

    return LazyTerminalProgress()
