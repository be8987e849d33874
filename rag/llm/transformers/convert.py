"""The bf16 conversion (`quantize=False`): transformers' own GGUF loader dequantises the bundled
file once into a plain bf16 folder, saved atomically, then loaded from there.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from rag.core.errors import ModelError
from rag.llm.weights import QWEN_1_5B, gguf_key, remove_stale_temps


def converted_name(gguf: Path, transformers_version: str) -> str:
    """Folder name of the bf16 conversion of `gguf`.

    Example: the bundled file with transformers 5.23.0 -> "qwen-1.5b-bf16-cc324af070c2-tf5.23.0".
    """
    key = gguf_key(gguf)
    stem = "qwen-1.5b" if key == QWEN_1_5B.sha256[:12] else re.sub(r"[^\w.-]+", "-", gguf.stem)
    return f"{stem}-bf16-{key}-tf{transformers_version}"


def convert(gguf: Path, folder: Path) -> None:
    """Dequantise `gguf` once and save a bf16 folder at `folder` (temp folder, then rename)."""
    print(f"Preparing the bundled model once (~1–2 min) into {folder}...", file=sys.stderr)
    start = time.perf_counter()
    model, tok = guarded(lambda: load_gguf(gguf), gguf)
    # transformers 5.23 cannot dequantize() a GGUF model, but the weights are already plain
    # bf16 tensors: dropping the quantizer record makes save_pretrained write a normal model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        guarded(partial(save, model, tok, tmp), folder)
        del model
        for path in [tmp, *tmp.iterdir()]:  # mkdtemp and safetensors create owner-only modes
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(tmp, folder)  # atomic: readers see no folder or a complete one
        except OSError:
            if not (folder / "config.json").is_file():  # else another process won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Model ready in {time.perf_counter() - start:.0f} s.", file=sys.stderr)


def load_gguf(gguf: Path) -> tuple[Any, Any]:
    """The GGUF unpacked into a dense bf16 model, and its tokenizer.

    `dequantize=True` is explicit: transformers 5.23 keeps GGUF blocks packed when the optional
    `kernels` package provides a matmul for them, and packed blocks must never be saved as bf16.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    kw: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, dtype=torch.bfloat16, quantization_config=GgufConfig(dequantize=True), **kw
    )
    packed = {p.dtype for p in model.parameters()} - {torch.bfloat16}
    if packed:
        raise ModelError(f"{gguf} did not unpack to bf16 (found {packed}); cannot convert it")
    return model, AutoTokenizer.from_pretrained(gguf.parent, **kw)


def save(model: Any, tok: Any, folder: Path) -> None:
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def load_folder(folder: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.bfloat16, local_files_only=True
    ).eval()
    return model, AutoTokenizer.from_pretrained(folder, local_files_only=True)


def guarded(step: Any, where: Path) -> Any:
    """Run `step()`; turn any failure into a one-line ModelError naming `where` and the fix."""
    try:
        return step()
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"could not load the model from {where}: {one_line(exc)} "
            f"(delete {where} if it is a cached copy, then retry)"
        ) from exc


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
