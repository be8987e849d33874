"""The models behind the page: made ready in the background, and described in Settings.

`Preparation` loads (on a first start: prepares) the generation model in a thread while the page is
already served, and reports how far it is; `model_names` and `kernel_summary` say which LLM,
embedder, index and kernels the bot uses. Grouped here because both are about the model's state,
not about one chat turn or one document.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from rag.core.errors import RagError
from rag.pipeline import RAG
from rag.ui.i18n import TEXT

if TYPE_CHECKING:
    from rag.llm.transformers.prepare import LazyTerminalProgress

log = logging.getLogger("app")


# -- the model, made ready while the page is served --------------------------------------------
class Preparation:
    """Loads (on a first start: prepares) the models in a background thread, so that the page is
    served at once; `text()` says how far it is, `wait()` blocks until it is done.

    Example: `p = Preparation(bot).start(); p.wait(); assert p.error == ""`
    """

    def __init__(self, bot: RAG) -> None:
        self.bot = bot
        self.fraction: float | None = None  # of a first start's preparation; None: loading only
        self.step = ""
        self.error = ""
        self.done = threading.Event()
        self._bar: LazyTerminalProgress | None = None  # the terminal's, opened on the first report

    def start(self) -> Preparation:
        threading.Thread(target=self._run, name="rag-prepare", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            llm = self.bot.llm
            if hasattr(llm, "progress"):
                llm.progress = self.report
            self.bot.warm(prime=True)
        except RagError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug: keep the page usable and say so
            log.exception("preparing the model failed")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def report(self, fraction: float, step: str) -> None:
        """Progress of a first start: on the page, and as a bar with an ETA in the terminal."""
        from rag.llm.transformers.prepare import LazyTerminalProgress

        self.fraction, self.step = fraction, step
        if self._bar is None:
            self._bar = LazyTerminalProgress()
        self._bar(fraction, step)
        if fraction >= 1.0:
            self._bar.close()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def text(self, ui: str = "fr") -> str:
        """One status line for the page ("" once ready)."""
        t = TEXT[ui]
        if self.done.is_set():
            return f"⚠ {t['error']}{t['colon']}{self.error}" if self.error else ""
        if self.fraction is None or self.fraction >= 1.0:
            return f"⏳ {t['loading_model']}"
        return (
            f"⏳ {t['preparing']}{t['colon']}{100 * self.fraction:.0f} % — {self.step} "
            f"({t['preparing_once']})"
        )


def model_names(bot: RAG) -> str:
    s = bot.settings
    if s.generation.llm == "fake":
        llm = "fake (scripted, no model)"
    elif s.generation.llm == "openai":
        model = s.server.openai_model or "the server default model"
        llm = f"openai · {model} · {s.server.openai_base_url}"
    else:
        from rag.llm.weights import QWEN_1_5B

        gguf = s.generation.model_file.name if s.generation.model_file else QWEN_1_5B.name
        llm = f"{s.generation.llm} · {gguf}"
        llm += kernel_summary(bot.llm)
    try:
        embedder = bot.embedder.id
    except RagError:
        embedder = s.index.embedder
    return f"**LLM** : `{llm}`  \n**Embedder** : `{embedder}`  \n**Index** : `{s.index.index_dir}`"


def kernel_summary(llm: object) -> str:
    """What RAG_LLM=auto chose and the kernels transformers runs, once loaded ("" before)."""
    chosen = getattr(llm, "chosen", None)
    text = f" → {chosen.name}" if chosen is not None else ""
    choice = getattr(chosen or llm, "kernels", None) or getattr(llm, "choice", None)
    if choice is None:
        return text
    prompt = choice.prompt_kernel(True)
    text += (
        f"`  \n**Kernels** : `prompts {prompt} ({choice.prefill.get(prompt, 0):.0f} GOP/s), "
        f"decode {choice.decode_kernel} ({choice.decode.get(choice.decode_kernel, 0):.0f} GB/s)"
    )
    if choice.backend.get("why"):
        text += f"`  \n**Backend** : `{choice.backend['chosen']}: {choice.backend['why']}"
    return text
