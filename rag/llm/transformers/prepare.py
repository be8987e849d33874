"""The quantised model built straight from the GGUF's blocks: once, with bounded memory; later
starts only map the result (start-up times: docs/results/2026-12-02-every-cpu.md).

The bundled GGUF is Q4_K_M: each Q4_K matrix stores, per group of 32 weights, 4-bit levels q, a
scale and a minimum (`value = scale * q - min`), exactly what PyTorch's packed int4 kernel
computes (`(q - 8) * scale + zero`). So those matrices are packed to int4 from their blocks with
no loss but the bf16 rounding of the scales; every matrix also gets an int8 copy per output
channel (prompts; the GGUF's Q6_K matrices and the output layer decode with it). The embedding,
norms and biases are stored in bf16. Nothing passes through a dense bf16 model: one matrix is
dequantised at a time (the `gguf` package's numpy code), and each decoder layer is written to its
own file as soon as it is done, so the peak memory is about one layer plus the embedding.

    <model_cache>/qwen-1.5b-q-<gguf key>-v<VERSION>-torch<version>-<cpu capability>/
        config.json, tokenizer files      from the GGUF's metadata (transformers' GGUF reader)
        head.pt                            embedding, final norm, output layer
        layer-00.pt ... layer-27.pt        one decoder layer each

`load()` builds the transformers model on the meta device (no memory, no random init) and maps
those files into it (`torch.load(mmap=True)`). The packed int4 layout belongs to the torch build
and to the CPU capability its kernels run at, so the folder name carries both.

Written by hand: transformers' own GGUF loading dequantises the whole model to dense bf16 (a
far higher peak memory and a slower start: docs/results/2026-12-02-every-cpu.md) and has no way
to keep the blocks as int4.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSION = 1  # bump when the files' layout or the conversion changes
GROUP = 32

# GGUF tensor names of a llama-style (qwen2) decoder layer -> transformers' module names
LAYER_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
HEAD_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
SUPPORTED = ("qwen2", "llama")  # architectures whose GGUF tensors map as above without permutation

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is being done)


def folder_name(gguf: Path, torch_version: str, capability: str) -> str:
    """The prepared folder's name: the GGUF's identity, this layout's version, torch's version and
    the CPU capability torch runs its kernels at, since the packed int4 layout depends on both
    (int4 weights packed under ATEN_CPU_CAPABILITY=avx2 decode to garbage with AVX-512 kernels).

    Example: the bundled file, torch 2.13.0+cpu, AVX512
    -> "qwen-1.5b-q-cc324af070c2-v1-torch2.13.0+cpu-avx512".
    """
    from rag.llm.weights import QWEN_1_5B, gguf_key

    key = gguf_key(gguf)
    stem = "qwen-1.5b" if key == QWEN_1_5B.sha256[:12] else re.sub(r"[^\w.-]+", "-", gguf.stem)
    return f"{stem}-q-{key}-v{VERSION}-torch{torch_version}-{capability.lower()}"


def is_prepared(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "head.pt").is_file()


def prepare(gguf: Path, folder: Path, progress: Progress | None = None) -> None:
    """Convert `gguf` into `folder` (a temp folder renamed at the end: readers see none or all)."""
    import gguf as gg

    from rag.core.errors import ModelError
    from rag.llm.weights import remove_stale_temps

    report = progress or _no_progress
    reader = gg.GGUFReader(gguf)
    arch = _field(reader, "general.architecture")
    if arch not in SUPPORTED:
        raise ModelError(
            f"{gguf.name}: architecture {arch!r} cannot be prepared for the transformers "
            "backend (supported: qwen2, llama); use RAG_LLM=llamacpp"
        )
    layers = int(_field(reader, f"{arch}.block_count"))
    total = sum(int(t.n_bytes) for t in reader.tensors) or 1
    done = 0
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        report(0.0, "reading the tokenizer and configuration")
        _save_config_and_tokenizer(gguf, tmp)
        groups: dict[str, list[Any]] = {"head": []}
        for t in reader.tensors:
            m = re.match(r"blk\.(\d+)\.", t.name)
            groups.setdefault(f"layer-{int(m.group(1)):02d}" if m else "head", []).append(t)
        if len(groups) != layers + 1:
            raise ModelError(f"{gguf.name}: expected {layers} layers, found {len(groups) - 1}")
        with open(gguf, "rb") as raw:
            for group, tensors in groups.items():
                state: dict[str, Any] = {}
                for t in tensors:
                    state.update(_convert(t, raw))
                    done += int(t.n_bytes)
                    report(done / total, f"converting {group}")
                _attach_biases(state)
                if group == "head" and "lm_head" not in state:  # tied embeddings: no output.weight
                    state["lm_head"] = _int8_linear(state["model.embed_tokens.weight"])
                _save(state, tmp / f"{group}.pt")
                del state
        for path in [tmp, *tmp.iterdir()]:  # mkdtemp creates owner-only modes
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not is_prepared(folder):  # else another process won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load(folder: Path) -> tuple[Any, Any]:
    """The model (QuantLinear layers mapped from `folder`'s files) and its tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from rag.llm.transformers.quant import QuantLinear, _replace

    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    dense: dict[str, Any] = {}
    for path in sorted(folder.glob("*.pt")):
        state = torch.load(path, mmap=True, weights_only=True)
        for name, value in state.items():
            if isinstance(value, dict):  # a quantised linear's buffers
                _replace(model, name, QuantLinear(value))
            else:
                dense[name] = value
    model.load_state_dict(dense, strict=False, assign=True)
    for name, module in model.named_modules():  # rotary tables are computed, not stored
        if any(b.is_meta for b in module.buffers(recurse=False)) and hasattr(module, "rope_type"):
            parent, _, child = name.rpartition(".")
            fresh = type(module)(config=config)
            setattr(model.get_submodule(parent) if parent else model, child, fresh)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise ValueError(f"{len(left)} tensors missing from the prepared model (e.g. {left[0]})")
    model.eval()
    return model, AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _save_config_and_tokenizer(gguf: Path, folder: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    kw: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
    config = AutoConfig.from_pretrained(gguf.parent, **kw)
    config.save_pretrained(folder)
    AutoTokenizer.from_pretrained(gguf.parent, **kw).save_pretrained(folder)


def _convert(tensor: Any, raw: Any) -> dict[str, Any]:
    """One GGUF tensor as transformers names it: a linear's QuantLinear buffers, or a bf16 tensor.

    The bytes are read from the file (not through the reader's memory map), so that pages of
    tensors already converted do not stay in the resident set."""
    import numpy as np
    import torch
    from gguf import GGMLQuantizationType as Q
    from gguf import quants

    from rag.llm.transformers.quant import quantize_int8

    name = _hf_name(tensor.name)
    raw.seek(int(tensor.data_offset))
    blocks = np.frombuffer(bytearray(raw.read(int(tensor.n_bytes))), dtype=np.uint8)
    shape = [int(x) for x in reversed(tensor.shape.tolist())]  # GGUF lists ne0 (columns) first
    qtype = Q(int(tensor.tensor_type))
    module, _, kind = name.rpartition(".")
    linear = kind == "weight" and len(shape) == 2 and module.rsplit(".", 1)[-1] in _LINEAR_LEAVES
    if len(shape) == 1:
        return {
            name: torch.from_numpy(_dequantize(blocks, qtype, shape, quants)).to(torch.bfloat16)
        }
    rows, cols = shape
    blocks = blocks.reshape(rows, -1)
    chunk = max(
        1, (1 << 24) // cols
    )  # 64 MiB of float32 at a time (the output layer is 233M values)
    if not linear:  # the embedding
        out = torch.empty(rows, cols, dtype=torch.bfloat16)
        for start in range(0, rows, chunk):
            part = blocks[start : start + chunk]
            out[start : start + len(part)] = torch.from_numpy(
                _dequantize(part, qtype, [len(part), cols], quants)
            )
        return {name: out}
    buffers: dict[str, Any] = {"bias": None, "w4": None, "sz4": None}
    w8, s8 = [], []
    q4 = qtype == Q.Q4_K and cols % 256 == 0
    qs, scales, zeros = [], [], []
    for start in range(0, rows, chunk):
        part = blocks[start : start + chunk]
        values = torch.from_numpy(_dequantize(part, qtype, [len(part), cols], quants))
        a, b = quantize_int8(values)
        w8.append(a)
        s8.append(b)
        if q4:
            q, scale, low = _q4k_groups(part, cols)
            qs.append(q)
            scales.append(scale)
            zeros.append(low + 8 * scale)  # the kernel computes (q - 8) * scale + zero
    buffers["w8"], buffers["s8"] = torch.cat(w8), torch.cat(s8).to(torch.bfloat16)
    if q4:
        q = torch.cat(qs).to(torch.int32)
        buffers["w4"] = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2)
        sz = torch.stack([torch.cat(scales), torch.cat(zeros)], dim=-1).transpose(0, 1)
        buffers["sz4"] = sz.contiguous().to(torch.bfloat16)
    return {module: buffers}


_LINEAR_LEAVES = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "lm_head",
)


def _dequantize(blocks: Any, qtype: Any, shape: list[int], quants: Any) -> Any:
    import numpy as np

    values = quants.dequantize(blocks.reshape(shape[0], -1) if len(shape) == 2 else blocks, qtype)
    return np.ascontiguousarray(values, dtype=np.float32).reshape(shape)


def _q4k_groups(blocks: Any, cols: int) -> tuple[Any, Any, Any]:
    """Q4_K rows as (levels 0..15 per weight, scale and low per group of 32), float32 torch
    tensors of shapes (rows, cols), (rows, cols / 32), (rows, cols / 32): value = scale * q + low.

    A Q4_K super-block of 256 weights is 2 bytes d, 2 bytes dmin, 12 bytes of 6-bit sub-scales
    and sub-minimums, 128 bytes of levels (two per byte: the low nibbles are sub-block 2i, the
    high ones 2i + 1); see gguf.quants.Q4_K, whose unpacking of the scales is reused."""
    import numpy as np
    import torch
    from gguf.quants import Q4_K

    rows = blocks.shape[0]
    sb = blocks.reshape(-1, 144)
    d = sb[:, 0:2].copy().view(np.float16).astype(np.float32)
    dmin = sb[:, 2:4].copy().view(np.float16).astype(np.float32)
    sc, mn = Q4_K.get_scale_min(sb[:, 4:16])
    scale = d * sc.astype(np.float32)  # (superblocks, 8)
    low = -dmin * mn.astype(np.float32)
    packed = sb[:, 16:].reshape(-1, 4, 1, 32) >> np.array([0, 4], dtype=np.uint8).reshape(
        1, 1, 2, 1
    )
    q = (packed & np.uint8(0x0F)).reshape(rows, cols)
    return (
        torch.from_numpy(q.astype(np.uint8)),
        torch.from_numpy(scale.reshape(rows, cols // GROUP)),
        torch.from_numpy(low.reshape(rows, cols // GROUP)),
    )


def _hf_name(gguf_name: str) -> str:
    m = re.match(r"blk\.(\d+)\.(\w+)\.(weight|bias)$", gguf_name)
    if m:
        layer, part, kind = m.groups()
        if part not in LAYER_NAMES:
            raise ValueError(f"unknown GGUF tensor {gguf_name}")
        return f"model.layers.{layer}.{LAYER_NAMES[part]}.{kind}"
    base, _, kind = gguf_name.rpartition(".")
    if base not in HEAD_NAMES:
        raise ValueError(f"unknown GGUF tensor {gguf_name}")
    return f"{HEAD_NAMES[base]}.{kind}"


def _field(reader: Any, key: str) -> Any:
    from rag.core.errors import ModelError

    field = reader.fields.get(key)
    if field is None:
        raise ModelError(f"the GGUF file has no {key!r} metadata: is it a model file?")
    value = field.parts[field.data[0]]
    return (
        bytes(value).decode() if value.dtype.kind == "u" and value.dtype.itemsize == 1 else value[0]
    )


def _int8_linear(weight: Any) -> dict[str, Any]:
    """QuantLinear buffers (int8 only) for a bf16 matrix, converted in parts of 8,192 rows."""
    import torch

    from rag.llm.transformers.quant import quantize_int8

    parts = [quantize_int8(part) for part in weight.split(8192)]
    return {
        "w8": torch.cat([w for w, _ in parts]),
        "s8": torch.cat([s for _, s in parts]).to(torch.bfloat16),
        "bias": None,
        "w4": None,
        "sz4": None,
    }


def _attach_biases(state: dict[str, Any]) -> None:
    """Move each linear's bias (a separate GGUF tensor) into its QuantLinear buffers."""
    import torch

    for name in [n for n in state if n.endswith(".bias")]:
        module = name[: -len(".bias")]
        if isinstance(state.get(module), dict):
            state[module]["bias"] = state.pop(name).to(torch.bfloat16)


def _save(state: dict[str, Any], path: Path) -> None:
    import torch

    torch.save(state, path)


def _no_progress(fraction: float, what: str) -> None:
    pass


class TerminalProgress:
    """One tqdm bar with an ETA for the whole preparation, on stderr."""

    def __init__(self, title: str = "Preparing the model (once)") -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=100,
            desc=title,
            unit="%",
            file=sys.stderr,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}",
        )
        self.start = time.perf_counter()

    def __call__(self, fraction: float, what: str) -> None:
        self.bar.n = round(100 * fraction, 1)
        self.bar.set_postfix_str(what, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


class LazyTerminalProgress:
    """A TerminalProgress opened only once there is preparing to show (a warm start shows none)."""

    def __init__(self) -> None:
        self.bar: TerminalProgress | None = None

    def __call__(self, fraction: float, what: str) -> None:
        if self.bar is None and fraction >= 1.0:
            return
        if self.bar is None:
            self.bar = TerminalProgress()
        self.bar(fraction, what)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
