"""Which matmul kernels this CPU runs fast, measured once per machine, and which engine answers.

The same PyTorch op can be many times slower on one CPU than on another (measured:
docs/results/2026-12-02-every-cpu.md): oneDNN's u8 x s8 quantised linear and bf16 matmuls need
AVX-512 VNNI / BF16 (or AMX) to be fast; on an AVX2-only CPU they fall back to slow kernels while
plain fp32 stays fast. So nothing here is assumed from CPU flags: `probe()` times each candidate
kernel of `rag.llm.transformers.quant.QuantLinear` on the bundled model's real shapes (its 1,536 ->
8,960 MLP projection), in stages (how each is timed: rag.llm.transformers.rates), so that a
kernel which is catastrophically slow is found out on a tiny matrix in milliseconds and never run
on a big one:

    prompt (prefill): onednn (u8 x s8 oneDNN quantised linear), int_mm (torch._int_mm s8 x s8),
                      bf16 and fp32 (the int8 weight dequantised into a reused buffer)
    decode (1 token): int4 (torch's packed int4 kernel) and int8 (torch's int8 pack kernel)

The choice (and the measured throughputs) is cached in `<model_cache>/kernels-<key>.json`, the
key built from the CPU model, its flags, torch's version and CPU capability (so the emulation
`ATEN_CPU_CAPABILITY=avx2` gets its own), oneDNN's ISA limit and the thread count.

`rag.llm.auto` compares the prediction made from these rates with llama.cpp.

Written by hand: neither PyTorch nor transformers picks kernels by measuring them.
"""

from __future__ import annotations

import builtins  # the type, where KernelChoice's field `float` hides it
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.llm.transformers import rates
from rag.llm.transformers.rates import DECODE_COPIES, PROMPT_ROWS, K, N

PREFILL_KERNELS = ("onednn", "int_mm", "bf16", "fp32")
INT8_KERNELS = ("onednn", "int_mm")
FLOAT_KERNELS = ("bf16", "fp32")
DECODE_KERNELS = ("int4", "int8")
VERSION = 3  # bump when the probe or the cached record changes

# The bundled Qwen2.5-1.5B: weights multiplied per prompt token in its 28 decoder layers, and
# in its output layer (computed for the last position only).
LAYER_WEIGHTS = 28 * (2 * 1536 * 1536 + 2 * 256 * 1536 + 3 * 1536 * 8960)
HEAD_WEIGHTS = 151936 * 1536
INT4_SHARE = 0.78  # of LAYER_WEIGHTS, the GGUF's 4-bit matrices (the rest are 6-bit: int8)
# Measured time / kernel-only prediction of a ~1,000-token prompt and of a decode step on the
# AVX-512 machine (attention, norms, activations and Python around the matmuls).
# Calibrated with benchmarks/speed.py (docs/results/2026-12-02-every-cpu.md).
PREFILL_OVERHEAD = 1.35
DECODE_OVERHEAD = 2.1
ANSWER_PROMPT, ANSWER_TOKENS = 1000, 64  # the "typical answer" the backends are compared on
INTERESTING_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
)


@dataclass
class KernelChoice:
    """What the probe measured and chose. Throughputs are in GOP/s (prompt kernels: 2 ops per
    multiply-add) and GB/s of weights read (decode kernels); 0 means not measurable here."""

    key: str
    cpu: str
    flags: list[str]
    capability: str  # torch's CPU capability (DEFAULT, AVX2, AVX512)
    torch: str
    threads: int
    prefill: dict[str, float] = field(default_factory=dict)
    decode: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # kernel -> why it was skipped or cut short
    int8: str = "int_mm"  # the fastest int8 prompt kernel
    float: str = "fp32"  # the fastest float prompt kernel
    decode_kernel: str = "int4"
    probe_s: builtins.float = 0.0
    backend: dict[str, Any] = field(default_factory=dict)  # choose_backend()'s record

    @property
    def int8_pays(self) -> bool:
        """Whether int8 prompt matmuls beat the float ones here (else every layer takes float)."""
        return self.prefill.get(self.int8, 0.0) > self.prefill.get(self.float, 0.0)

    def prompt_kernel(self, int8_layer: bool) -> str:
        """The kernel for a layer's prompts: int8 only where the settings allow and it pays."""
        return self.int8 if int8_layer and self.int8_pays else self.float

    def predict(
        self,
        prompt_tokens: int = ANSWER_PROMPT,
        new_tokens: int = ANSWER_TOKENS,
        int8_share: builtins.float = 5 / 6,
    ) -> dict[str, builtins.float]:
        """Predicted first-token seconds, decode tokens/s and answer seconds for the bundled
        model with this choice (`int8_share`: the prompt weights in int8 layers; "mixed" keeps
        the MLP down projection, a sixth, in float)."""
        best_int8 = self.prefill.get(self.prompt_kernel(True), 0.0)
        best_float = self.prefill.get(self.float, 0.0)
        if best_int8 <= 0 or best_float <= 0:
            return {"first_token_s": float("inf"), "decode_tps": 0.0, "answer_s": float("inf")}
        ops = 2 * LAYER_WEIGHTS * prompt_tokens
        prefill = ops * int8_share / (best_int8 * 1e9) + ops * (1 - int8_share) / (best_float * 1e9)
        first = prefill * PREFILL_OVERHEAD
        bytes4 = LAYER_WEIGHTS * INT4_SHARE * (0.5 if self.decode_kernel == "int4" else 1.0)
        bytes8 = LAYER_WEIGHTS * (1 - INT4_SHARE) + HEAD_WEIGHTS
        rate = self.decode.get(self.decode_kernel, 0.0) * 1e9
        rate8 = self.decode.get("int8", 0.0) * 1e9
        if rate <= 0 or rate8 <= 0:
            return {"first_token_s": first, "decode_tps": 0.0, "answer_s": float("inf")}
        step = (bytes4 / rate + bytes8 / rate8) * DECODE_OVERHEAD
        return {
            "first_token_s": first,
            "decode_tps": 1 / step,
            "answer_s": first + new_tokens * step,
        }

    def lines(self) -> list[str]:
        """A readable report: the CPU, each kernel's throughput, the choice and why."""
        out = [
            f"CPU: {self.cpu} ({self.threads} threads); torch {self.torch}, "
            f"capability {self.capability}",
            f"flags: {' '.join(self.flags) or '(none of interest)'}",
        ]
        out.append("prompt kernels (GOP/s, rows x 1536 x 8960):")
        for name in PREFILL_KERNELS:
            note = f"  ({self.notes[name]})" if name in self.notes else ""
            out.append(f"  {name:<7} {self.prefill.get(name, 0.0):8.1f}{note}")
        out.append(
            f"decode kernels (GB/s of weights, 1 x 1536 x 8960, {DECODE_COPIES} matrices in turn):"
        )
        for name in DECODE_KERNELS:
            note = f"  ({self.notes['decode-' + name]})" if "decode-" + name in self.notes else ""
            out.append(f"  {name:<7} {self.decode.get(name, 0.0):8.1f}{note}")
        why = "int8 beats float" if self.int8_pays else "float beats int8"
        out.append(
            f"chosen: prompts {self.prompt_kernel(True)} ({why}; down projections "
            f"{self.float}), decode {self.decode_kernel}; probe took {self.probe_s:.2f} s"
        )
        p = self.predict()
        out.append(
            f"transformers predicted: first token {p['first_token_s']:.1f} s @{ANSWER_PROMPT} "
            f"tokens, decode {p['decode_tps']:.1f} tok/s"
        )
        if self.backend:
            out.append(f"auto backend: {self.backend.get('chosen')} ({self.backend.get('why')})")
        return out


def machine_key(threads: int) -> tuple[str, dict[str, Any]]:
    """A short key naming this CPU as the kernels see it, and what went into it."""
    import torch

    cpu, flags = cpu_info()
    ident = {
        "cpu": cpu,
        "flags": flags,
        "torch": torch.__version__,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "threads": threads,
        "v": VERSION,
    }
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]
    return digest, ident


def cpu_info() -> tuple[str, list[str]]:
    """The CPU's model name and the flags (of INTERESTING_FLAGS) it has, from /proc/cpuinfo."""
    name, flags = platform.processor() or platform.machine(), set[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return name, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            name = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return name, [f for f in INTERESTING_FLAGS if f in flags]


def cached_choice(cache: Path, threads: int, again: bool = False) -> KernelChoice:
    """This machine's choice: from its cache file, else probed now and written there."""
    key, _ = machine_key(threads)
    path = Path(cache).expanduser() / f"kernels-{key}.json"
    if not again:
        try:
            return KernelChoice(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            pass  # none yet, or damaged / of an older layout: measure again
    choice = probe(threads)
    save(choice, cache)
    return choice


def save(choice: KernelChoice, cache: Path) -> None:
    """Write the choice atomically; a read-only cache only costs a probe next time."""
    path = Path(cache).expanduser() / f"kernels-{choice.key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(choice), indent=1))
        os.replace(tmp, path)
    except OSError:
        pass


def probe(threads: int) -> KernelChoice:
    """Time every candidate kernel on this CPU (well under a second where they are fast)."""
    import torch

    from rag.llm.transformers.quant import QuantLinear, quantize

    torch.set_num_threads(threads)
    start = time.perf_counter()
    key, ident = machine_key(threads)
    choice = KernelChoice(
        key=key,
        cpu=ident["cpu"],
        flags=ident["flags"],
        capability=ident["capability"],
        torch=ident["torch"],
        threads=threads,
    )
    gen = torch.Generator().manual_seed(0)
    small = QuantLinear(quantize(rates.grid_weight(256, 256, gen)))
    big = QuantLinear(rates.random_buffers(N, K, gen))
    rows_small = torch.randn(32, 256, generator=gen).bfloat16()
    rows_big = torch.randn(PROMPT_ROWS, K, generator=gen).bfloat16()
    reference = rates.with_kernel(small, "fp32", rows_small).float()
    # fp32 first: the peer every other kernel is screened against (same shapes, same run)
    fp32_small = rates.small_rate("fp32", small, rows_small)
    choice.prefill["fp32"] = rates.big_rate("fp32", big, rows_big)
    scale = (
        choice.prefill["fp32"] / fp32_small if fp32_small > 0 else 1.0
    )  # fp32's big / small rate
    for name in PREFILL_KERNELS:
        if name != "fp32":
            choice.prefill[name] = rates.prompt_rate(
                name, small, big, rows_small, rows_big, reference, scale, choice.notes
            )
    one = torch.randn(1, K, generator=gen).bfloat16()
    for name in DECODE_KERNELS:
        choice.decode[name] = rates.decode_rate(name, big, one, choice.notes)
    choice.int8 = max(INT8_KERNELS, key=lambda k: choice.prefill[k])
    choice.float = max(FLOAT_KERNELS, key=lambda k: choice.prefill[k])
    # int4 reads half the bytes of int8: compare the time per weight, not GB/s
    int4_time = 0.5 / choice.decode["int4"] if choice.decode["int4"] > 0 else float("inf")
    int8_time = 1.0 / choice.decode["int8"] if choice.decode["int8"] > 0 else float("inf")
    choice.decode_kernel = "int4" if int4_time <= int8_time else "int8"
    choice.probe_s = time.perf_counter() - start
    return choice


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
