"""Quantised linear layers for fast CPU generation, with PyTorch's own packed kernels.

Decoding one token reads every weight once, so its speed is set by the bytes of weights (bf16: 3.1
GB per token). The bundled model is a Q4_K_M GGUF: most of its matrices are 4-bit with one scale and
one minimum per 32 weights, which is exactly what PyTorch's int4 kernel
(`_weight_int4pack_mm_for_cpu`, group 32, scale + zero) represents; rag.llm.transformers.prepare
packs them from the GGUF's blocks. Every layer also holds an int8 copy per output channel
(`_weight_int8pack_mm` for decode where there is no int4, or where int8 is faster on this CPU).
Prompt processing (many tokens at once) is compute-bound instead, and each layer runs the kernel
`prefill_kernel` names:

- "onednn": each token's activations to unsigned int8, oneDNN's quantised linear
  (`torch.ops.onednn.qlinear_pointwise`, weights prepacked at load, bf16 out);
- "int_mm": `torch._int_mm` (signed x signed, int32 out, scaled afterwards);
- "bf16" / "fp32": the int8 weight dequantised into a reused buffer and a float matmul.

Which is fastest depends on the CPU, by a wide margin (AVX-512 VNNI/BF16 or not; measured:
docs/results/2026-12-02-every-cpu.md), so rag.llm.transformers.kernels measures them once per
machine and `set_prompt_kernels` applies the choice.

What is written here rather than taken from a library, and why: torchao's int4 CPU path failed on
the machine this was first written on and its int8 paths need `torch.compile`; the PyTorch kernels
above, called from a plain module, were as fast. The packed int4 layout is internal to torch and
differs per CPU capability, so rag.llm.transformers.prepare keys its folder by both; oneDNN's
prepacked weights cannot be saved (opaque tensors), so they are rebuilt at each load.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import threading
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

GROUP = 32  # the GGUF Q4_K sub-block size
INT4_MAX_ERROR = 0.02  # relative reconstruction error under which a matrix is stored as int4
DECODE_ROWS = 4  # inputs with at most this many rows (tokens) take the packed kernels
INT8_ROWS = 512  # prompt tokens per int8 matmul (see QuantLinear.forward)
SCRATCH_MIN = 8960 * 1536  # the largest projection of the bundled model
SCRATCH_MAX = 64 * 1024 * 1024  # weights above this many values are dequantised without the buffer
_scratch = threading.local()  # per thread: a forward in another thread never shares the buffer
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class QuantLinear(torch.nn.Module):
    """A linear layer holding int8 (always) and packed int4 (when lossless) weights.

    Example: `QuantLinear.from_linear(torch.nn.Linear(64, 32).bfloat16())(x)` for bf16 `x`.
    """

    # buffers (register_buffer): int8 weights and their per-channel scales; bias; int4 + scales
    w8: torch.Tensor
    s8: torch.Tensor
    bias: torch.Tensor | None
    w4: torch.Tensor | None
    sz4: torch.Tensor | None

    def __init__(self, tensors: dict[str, torch.Tensor | None]) -> None:
        super().__init__()
        w8 = tensors["w8"]
        if w8 is None:
            raise ValueError("a QuantLinear needs its int8 weights ('w8')")
        self.out_features, self.in_features = w8.shape
        for name in ("w8", "s8", "bias", "w4", "sz4"):
            self.register_buffer(name, tensors.get(name))
        # The kernel of this layer's prompt matmuls (rag.llm.transformers.kernels.PREFILL_KERNELS:
        # "onednn", "int_mm", "bf16", "fp32") and of its decode steps ("int4" where it has int4
        # weights, else "int8"); `set_prompt_kernels` sets them from the machine's measured choice.
        self.prefill_kernel = "bf16"
        self.decode_kernel = "int4"
        self.packed: tuple[torch.Tensor, ...] | None = None  # oneDNN weight, scales, zeros

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear) -> QuantLinear:
        return cls(quantize(linear.weight.detach(), linear.bias))

    @property
    def int4(self) -> bool:
        return self.w4 is not None

    @property
    def int8_prefill(self) -> bool:
        """Whether prompts go through an int8 x int8 kernel (else a dequantised float one)."""
        return self.prefill_kernel in ("onednn", "int_mm")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        rows = x.reshape(-1, shape[-1])
        kernel = self.prefill_kernel
        if rows.shape[0] <= DECODE_ROWS:
            if self.w4 is not None and self.decode_kernel == "int4":
                y = torch.ops.aten._weight_int4pack_mm_for_cpu(rows, self.w4, GROUP, self.sz4)
            else:
                y = torch.ops.aten._weight_int8pack_mm(rows, self.w8, self.s8)
        elif kernel == "onednn" and (packed := self.packed) is not None:
            y = self._packed_rows(rows, packed)
        elif kernel in ("onednn", "int_mm"):
            # At most INT8_ROWS tokens at a time: the int32 and float32 temporaries of 1,150
            # tokens x 8,960 outputs are 41 MB, past glibc's 32 MB limit for reusing freed heap
            # memory, and fresh pages cost more than the matmul (measured:
            # docs/results/2026-11-22-speed-one-thread.md).
            y = torch.cat([self._int8_rows(part) for part in rows.split(INT8_ROWS)])
        elif kernel == "fp32":  # CPUs without fast bf16 matmuls (AVX2): fp32 is the faster one
            # there (measured: docs/results/2026-12-02-every-cpu.md)
            y = F.linear(rows.float(), self._dequantized(torch.float32)).to(rows.dtype)
        else:
            y = F.linear(rows, self._dequantized(rows.dtype))
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features)

    def pack(self, check: bool = True) -> bool:
        """Prepack the int8 weights for oneDNN's quantised linear; with `check`, first compare
        it on a few random rows with what `torch._int_mm` gives. False where this torch build
        lacks it or disagrees (on CPUs without VNNI, oneDNN may saturate u8 x s8 sums to 16
        bits): prompts then keep `torch._int_mm`. The model's layers pack without the check
        once rag.llm.transformers.kernels has checked (and timed) the kernel on this CPU."""
        self.packed = None
        try:
            weight = torch.ops.onednn.qlinear_prepack(self.w8, None)
            zeros = torch.zeros(self.out_features, dtype=torch.int64)
            packed = (weight, self.s8.float(), zeros)
            if not check:
                self.packed = packed
                return True
            probe = torch.randn(24, self.in_features, generator=torch.Generator().manual_seed(0))
            probe = probe.to(torch.bfloat16)
            got, want = self._packed_rows(probe, packed).float(), self._int8_rows(probe).float()
        except (AttributeError, RuntimeError, NotImplementedError):
            return False
        if not torch.isfinite(got).all() or (got - want).norm() > 0.01 * want.norm():
            return False
        self.packed = packed
        return True

    @staticmethod
    def _packed_rows(rows: torch.Tensor, packed: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Each token's activations to unsigned int8 (its own scale, zero point 128) through
        oneDNN's u8 x s8 kernel, which applies the weights' channel scales and returns bf16."""
        weight, scales, zeros = packed
        levels, sx = _token_levels(rows)
        xq = levels.add_(128).to(torch.uint8)
        y = torch.ops.onednn.qlinear_pointwise(
            xq, 1.0, 128, weight, scales, zeros, None, 1.0, 0, rows.dtype, "none", [], ""
        )  # x scale 1 and zero point 128: the token scales are applied next, on the output
        # Two bf16 roundings: barely more error than the int32 path's (measured:
        # docs/results/2026-11-22-prompt-kernels.md).
        return y.mul_(sx.to(y.dtype))

    def _int8_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """int8 x int8 -> int32 matmul of `rows` (each token's activations scaled to int8)."""
        if rows.shape[0] <= 16:  # torch._int_mm needs more than 16 rows
            return F.linear(rows, self._dequantized(rows.dtype))
        levels, sx = _token_levels(rows)
        y = torch._int_mm(levels.to(torch.int8), self.w8.t()).float()
        return y.mul_(sx).mul_(self.s8.float()[None, :]).to(rows.dtype)

    def _dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """The bf16 weight for a prompt matmul, written into this thread's reused scratch buffer:
        a fresh 27 MB tensor per layer costs page faults worth a large share of the matmul itself
        (measured: docs/results/2026-11-22-speed-one-thread.md)."""
        numel = self.w8.numel()
        if numel > SCRATCH_MAX:  # the output layer, only with all-position logits: rare
            return self.w8.to(dtype) * self.s8.to(dtype)[:, None]
        bufs = _scratch.__dict__.setdefault("bufs", {})  # one per dtype (bf16 and fp32 kernels)
        buf = bufs.get(dtype)
        if buf is None or buf.numel() < numel:
            with torch.inference_mode(False):  # a normal tensor: writable inside and outside
                buf = bufs[dtype] = torch.empty(max(numel, SCRATCH_MIN), dtype=dtype)
        weight = buf[:numel].view(self.w8.shape)
        return torch.mul(self.w8, self.s8.to(dtype)[:, None], out=weight)

    def tensors(self) -> dict[str, torch.Tensor | None]:
        return {name: getattr(self, name) for name in ("w8", "s8", "bias", "w4", "sz4")}


def _token_levels(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's activations as whole numbers in -127..127 (float32) and the row's scale:
    rows ~= levels * scale. In-place steps on one float copy: fresh large temporaries (page
    faults) cost more than the matmul."""
    wide = rows.float()
    sx = wide.abs().amax(dim=1, keepdim=True).clamp_(min=1e-8).div_(127)
    return wide.div_(sx).round_(), sx


def quantize(
    weight: torch.Tensor, bias: torch.Tensor | None = None, rows: int = 2048
) -> dict[str, Any]:
    """int8 per-channel weights, plus packed int4 (group 32, on the block's own grid) when that
    reproduces the matrix within INT4_MAX_ERROR. Returns the buffers of a QuantLinear and
    "error4". Works `rows` output rows at a time so that float temporaries stay small."""
    _, k = weight.shape
    w8, s8, qs, scales, zeros = [], [], [], [], []
    err2 = norm2 = 0.0
    for part in weight.detach().split(rows):
        w = part.float()
        levels, s = quantize_int8(w)
        w8.append(levels)
        s8.append(s)
        if k % GROUP == 0:
            groups = w.reshape(len(w), k // GROUP, GROUP)
            lo = groups.amin(dim=-1, keepdim=True)
            scale = _grid_step(groups, lo)
            q = torch.round((groups - lo) / scale).clamp(0, 15)
            err2 += float((q * scale + lo - groups).square().sum())
            norm2 += float(groups.square().sum())
            qs.append(q.to(torch.uint8).reshape(len(w), k))
            scales.append(scale.squeeze(-1))
            zeros.append((lo + 8 * scale).squeeze(-1))  # the kernel computes (q - 8) * scale + zero
    error = (err2 / norm2) ** 0.5 if norm2 > 0 else float("inf")
    out: dict[str, Any] = {
        "w8": torch.cat(w8),
        "s8": torch.cat(s8).to(torch.bfloat16),
        "bias": None if bias is None else bias.detach().to(torch.bfloat16).clone(),
        "w4": None,
        "sz4": None,
        "error4": error,
    }
    if qs and error <= INT4_MAX_ERROR:
        out["w4"] = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
            torch.cat(qs).to(torch.int32), 2
        )
        sz = torch.stack([torch.cat(scales), torch.cat(zeros)], dim=-1).transpose(0, 1)
        out["sz4"] = sz.contiguous().to(torch.bfloat16)
    return out


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output channel: (levels, float32 scales), weight ~= levels * scale."""
    w = weight.float()
    s = (w.abs().amax(dim=1) / 127).clamp(min=1e-10)
    return torch.round(w / s[:, None]).clamp_(-127, 127).to(torch.int8), s


def _grid_step(groups: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """Per group of 32, the spacing of the levels its values sit on.

    A GGUF 4-bit block dequantises to `minimum + step * q` with q in 0..15, but its extremes are
    not always q = 0 and 15, so (max - min) / 15 can miss the grid. The smallest gap between
    distinct values (gaps under a quarter of a level are bf16 rounding) gives the step; groups
    that need more than 16 levels (the GGUF's 6-bit blocks) fall back to (max - min) / 15.
    """
    spread = (groups.amax(dim=-1, keepdim=True) - lo).clamp(min=1e-10)
    ordered = groups.sort(dim=-1).values
    gaps = ordered[..., 1:] - ordered[..., :-1]
    gaps = torch.where(gaps > 0.25 * spread / 15, gaps, torch.full_like(gaps, float("inf")))
    levels = torch.round(spread / gaps.amin(dim=-1, keepdim=True)).clamp(min=1)
    return torch.where(levels <= 15, spread / levels, spread / 15)


def targets(model: torch.nn.Module) -> list[str]:
    """Names of the linear layers to quantise: every projection of every decoder layer and the
    output layer (the embedding stays bf16: a lookup reads one row per token)."""
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in LINEARS
    ]
    if isinstance(getattr(model, "lm_head", None), torch.nn.Linear):
        names.append("lm_head")
    return names


def set_prompt_kernels(
    model: torch.nn.Module, mode: str, choice: Any, mapped_from: Path | None = None
) -> None:
    """Which kernel each layer uses, from the machine's measured `choice` (a
    rag.llm.transformers.kernels.KernelChoice). `mode` says which layers may process
    prompts with int8 x int8 matmuls: "int8" all of them, "mixed" all but the MLP's down
    projection (its inputs have the widest outliers: per-token int8 loses most there), "bf16"
    none; they do so only where int8 beats float on this CPU. Layers whose kernel is oneDNN's
    have their weights prepacked (not the output layer: prompts compute its last position
    only); the int8 copy of a layer that decodes with int4 is then not read again, and, when it
    is mapped from the cache file `mapped_from`, its pages are given back (`release_pages`)."""
    int8, floating, decode = choice.int8, choice.float, choice.decode_kernel
    for name, module in model.named_modules():
        if not isinstance(module, QuantLinear):
            continue
        allowed = mode == "int8" or (mode == "mixed" and not name.endswith("down_proj"))
        module.prefill_kernel = int8 if allowed and choice.int8_pays else floating
        module.decode_kernel = decode
        if module.prefill_kernel == "onednn" and name != "lm_head":
            packed = module.packed is not None or module.pack(check=False)
            if packed and module.int4 and decode == "int4" and mapped_from:
                release_pages(module.w8, mapped_from)
        else:
            module.packed = None


def release_pages(tensor: torch.Tensor, mapped_from: Path) -> bool:
    """Tell Linux that the pages of a tensor mapped from the file `mapped_from` are not needed
    now (madvise MADV_DONTNEED): they leave the resident set and come back from the file if
    read again. Without it, prepacking reads every int8 weight and the peak RSS holds both
    copies, a sizeable extra (measured: docs/results/2026-11-22-prompt-kernels.md). Written by
    hand: neither torch nor the standard library exposes madvise on a tensor. Does nothing
    (False) unless the tensor's whole pages lie in a private mapping of that very file (or of a
    file directly inside the folder `mapped_from`): on other memory it would zero the data."""
    if sys.platform != "linux" or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    page = mmap.PAGESIZE
    start = -(-tensor.data_ptr() // page) * page  # whole pages inside the tensor only
    end = (tensor.data_ptr() + tensor.numel() * tensor.element_size()) // page * page
    if end <= start:
        return False
    mapped, allowed = _mapped_file(start, end), Path(mapped_from).resolve()
    if mapped is None or not (Path(mapped) == allowed or Path(mapped).parent == allowed):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    length = ctypes.c_size_t(end - start)
    return libc.madvise(ctypes.c_void_p(start), length, mmap.MADV_DONTNEED) == 0


def _mapped_file(start: int, end: int) -> str | None:
    """The file privately mapped over [start, end) in this process, if one is (torch.load's
    mmap maps it copy-on-write: dropped pages come back as the file has them, and nothing here
    writes to weights)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                low, high = (int(x, 16) for x in fields[0].split("-"))
                if low <= start and end <= high:
                    path = fields[5].strip() if len(fields) == 6 else ""
                    private_file = fields[1].endswith("p") and path.startswith("/")
                    return path if private_file else None
    except OSError:
        return None
    return None


def summary(model: torch.nn.Module) -> dict[str, int]:
    """How many layers are int4 / int8, and the bytes of their weights (for the benchmark)."""
    layers = [m for m in model.modules() if isinstance(m, QuantLinear)]
    int4 = [m for m in layers if m.int4]
    return {
        "int4_layers": len(int4),
        "int8_layers": len(layers) - len(int4),
        "decode_weight_bytes": sum(
            m.w4.numel() * m.w4.element_size() if m.w4 is not None else m.w8.numel() for m in layers
        ),
    }


def _replace(model: torch.nn.Module, name: str, layer: torch.nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, layer)
