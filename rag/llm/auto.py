"""RAG_LLM=auto: the engine this machine runs fastest, measured once per machine.

`choose_backend()` predicts the transformers backend's time for a typical answer (a 1,000-token
prompt, 64 new tokens) from the kernel probe (`rag.llm.transformers.kernels`), measures
llama.cpp on the same GGUF in a child process (its own timings), and keeps transformers unless
llama.cpp is more than `AUTO_MARGIN` times faster. The record is cached with the probe, for
`rag doctor` and the app's model panel.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.core.settings import Settings
from rag.llm.base import LLM, Message
from rag.llm.transformers.kernels import (
    ANSWER_PROMPT,
    ANSWER_TOKENS,
    KernelChoice,
    _short,
    cached_choice,
    save,
)
from rag.llm.weights import JOIN_SHARE, bundled_gguf

AUTO_MARGIN = 1.2  # llama.cpp must be this much faster for `auto` to leave transformers


class AutoLLM(LLM):
    """RAG_LLM=auto: the engine this machine runs fastest, chosen at first load by
    choose_backend (measured once per machine, then read from the model cache).

    Until `load()` (or the first stream) nothing is measured or loaded; after it, `chosen` is
    the real backend and `choice` the measurements behind it, and every other attribute is the
    chosen backend's."""

    name = "auto"

    def __init__(self, settings: Settings, build: Callable[[Settings], LLM]) -> None:
        self.settings = settings
        self.build = build  # rag.llm.registry.build_llm: builds the chosen engine by name
        self.chosen: LLM | None = None
        self.choice: KernelChoice | None = None
        self._lock = threading.Lock()

    def _backend(self) -> LLM:
        with self._lock:
            if self.chosen is None:
                from rag.llm.transformers.prepare import LazyTerminalProgress

                # one progress bar for the whole first start: joining the parts here, the
                # preparation (transformers) next
                report = self.progress or LazyTerminalProgress()
                bundled_gguf(self.settings, progress=lambda f, what: report(JOIN_SHARE * f, what))
                self.choice = choose_backend(self.settings)
                name = self.choice.backend.get("chosen", "transformers")
                backend = self.build(self.settings.updated(llm=name))
                if name == "transformers":
                    backend.progress = report
                elif hasattr(report, "close"):
                    report.close()
                self.chosen = backend
            return self.chosen

    def load(self) -> None:
        self._backend().load()

    def prime(self, conversations: list[list[Message]]) -> None:
        self._backend().prime(conversations)

    def stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        return self._backend().stream(messages, max_new_tokens)

    def choose(
        self, messages: list[Message], options: list[str], abstain: str | None = None
    ) -> dict[str, float]:
        return self._backend().choose(messages, options, abstain)

    def __getattr__(self, name: str):
        chosen = self.__dict__.get("chosen")
        if chosen is None:
            raise AttributeError(name)
        return getattr(chosen, name)


def choose_backend(settings: Any, again: bool = False) -> KernelChoice:
    """The kernel choice with its `backend` record filled: which engine `auto` runs and why.

    llama.cpp is timed only when it is installed and the model is a GGUF it can load; any
    failure there keeps transformers (the reason is recorded)."""
    choice = cached_choice(
        settings.generation.model_cache, settings.generation.threads, again=again
    )
    if choice.backend and not again:
        return choice
    torch_pred = choice.predict()
    record: dict[str, Any] = {"transformers": torch_pred}
    try:
        llama = measure_llamacpp(settings)
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        record.update(chosen="transformers", why=f"llama.cpp not measurable: {_short(exc)}")
    else:
        record["llamacpp"] = llama
        ratio = torch_pred["answer_s"] / llama["answer_s"] if llama["answer_s"] > 0 else 0.0
        record["ratio"] = ratio
        if ratio > AUTO_MARGIN:
            record.update(
                chosen="llamacpp",
                why=f"a {ANSWER_PROMPT}-token answer predicted "
                f"{ratio:.1f}x sooner than with PyTorch's fastest kernels here",
            )
        else:
            record.update(
                chosen="transformers",
                why=f"PyTorch's kernels within {AUTO_MARGIN}x of "
                f"llama.cpp here ({ratio:.2f}x the time of a {ANSWER_PROMPT}-token answer)",
            )
    choice.backend = record
    save(choice, settings.generation.model_cache)
    return choice


def measure_llamacpp(settings: Any, timeout_s: float = 600) -> dict[str, float]:
    """llama.cpp's prompt and decode speed on this machine, from its own timings of one short
    chat completion (about 210 prompt tokens, 16 new), scaled to the typical answer.

    Run in a child process: llama.cpp's threads and its 1 GB mapping then leave nothing behind
    in this one, which goes on to run torch on the same cores."""
    import sys

    args = json.dumps(
        {
            "model_cache": str(settings.generation.model_cache),
            "threads": settings.generation.threads,
            "model_file": None
            if settings.generation.model_file is None
            else str(settings.generation.model_file),
        }
    )
    code = "import sys; from rag.llm.auto import _measure_child; _measure_child(sys.argv[1])"
    out = subprocess.run(
        [sys.executable, "-c", code, args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PYTHONPATH": _package_root()},
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("LLAMACPP ")), None)
    if line is None:
        raise RuntimeError((out.stderr.strip().splitlines() or ["no output"])[-1])
    return json.loads(line[len("LLAMACPP ") :])


def _measure_child(args: str) -> None:
    from rag.llm.llamacpp import LlamaCppLLM

    settings = Settings(**{k: v for k, v in json.loads(args).items() if v is not None})
    llm = LlamaCppLLM(settings)
    text = " ".join(
        f"Phrase {i} : le président a parlé au téléphone pendant une heure." for i in range(12)
    )
    timings = llm.timed([{"role": "user", "content": text + "\nRésume."}], 16)
    prompt_tps, decode_tps = timings["prompt_per_second"], timings["predicted_per_second"]
    first = ANSWER_PROMPT / prompt_tps
    result = {
        "first_token_s": first,
        "decode_tps": decode_tps,
        "answer_s": first + ANSWER_TOKENS / decode_tps,
        "prompt_tps": prompt_tps,
    }
    print("LLAMACPP " + json.dumps(result), flush=True)
    os._exit(0)  # skip the interpreter's teardown of the llama.cpp server


def _package_root() -> str:
    """PYTHONPATH for the child: the folder holding this `rag` package, then the inherited one."""
    root = str(Path(__file__).resolve().parents[2])  # rag/llm/auto.py -> the folder holding rag/
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
