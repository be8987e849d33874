"""Timing one candidate kernel on this CPU, for `rag.llm.transformers.kernels.probe`: GOP/s of a
prompt kernel (screened on a small product against fp32 in the same run, then timed on the
bundled model's real shape when predicted fast enough), GB/s of weights a decode kernel reads.

torch and rag.llm.transformers.quant are imported only when a kernel is timed.
"""

from __future__ import annotations

import time
from typing import Any

PROBE_BUDGET_S = 0.15  # a candidate predicted slower than this on the big shape is not run on it
SMALL_REPEAT = 10  # timings of the small shape, best kept (0.1 ms each where a kernel is fast)
K, N = 1536, 8960  # the probe's big shape: the bundled model's MLP gate/up projection
PROMPT_ROWS = 128  # rows of the big prompt probe
DECODE_COPIES = 8  # distinct matrices the decode probe cycles through (110 MB in int8)


def grid_weight(n: int, k: int, gen: Any) -> Any:
    """A weight whose groups of 32 sit on 16 levels, as the GGUF's 4-bit ones do (so it packs)."""
    import torch

    q = torch.randint(0, 16, (n, k // 32, 32), generator=gen).float()
    scale = torch.rand(n, k // 32, 1, generator=gen) * 0.01 + 0.001
    low = -8 * scale
    return (q * scale + low).reshape(n, k).bfloat16()


def random_buffers(n: int, k: int, gen: Any) -> dict[str, Any]:
    """A QuantLinear's buffers of random values (for timing only: quantize() would be slow)."""
    import torch

    q = torch.randint(0, 16, (n, k), generator=gen, dtype=torch.int32)
    return {
        "w8": torch.randint(-127, 128, (n, k), generator=gen, dtype=torch.int8),
        "s8": (torch.rand(n, generator=gen) * 0.01).bfloat16(),
        "w4": torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2),
        "sz4": (torch.rand(k // 32, n, 2, generator=gen) * 0.01).bfloat16(),
    }


def with_kernel(layer: Any, name: str, rows: Any) -> Any:
    layer.prefill_kernel = name
    return layer(rows)


def timed(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def small_rate(name: str, small: Any, rows_small: Any) -> float:
    ops = 2 * rows_small.shape[0] * 256 * 256
    return ops / timed(lambda: with_kernel(small, name, rows_small), SMALL_REPEAT) / 1e9


def big_rate(name: str, big: Any, rows_big: Any) -> float:
    with_kernel(big, name, rows_big)  # warm-up: scratch buffers, oneDNN primitives
    return 2 * rows_big.shape[0] * K * N / timed(lambda: with_kernel(big, name, rows_big), 2) / 1e9


def prompt_rate(
    name: str,
    small: Any,
    big: Any,
    rows_small: Any,
    rows_big: Any,
    reference: Any,
    scale: float,
    notes: dict[str, str],
) -> float:
    """GOP/s of one prompt kernel: first on a 32 x 256 x 256 product (a wrong or catastrophically
    slow kernel shows there), then, when predicted fast enough, on PROMPT_ROWS x 1,536 x 8,960.

    The prediction is a ratio against fp32 in the same run (`scale`: fp32's big-shape rate over
    its small-shape rate): the small shape is dominated by call overhead, more so on a busy
    machine, and an absolute rate from it understates every kernel. Measured on an AMX Xeon
    probed while the test suite ran: 14-19 GOP/s on the small shape for kernels that do
    310-2,460 GOP/s on the big one, so all three were skipped and llama.cpp chosen at 15 s a
    first token (docs/results/2026-12-04-probe.md)."""
    if name == "onednn":
        start = time.perf_counter()
        if not small.pack(check=False):  # checked against fp32 just below
            notes[name] = "not available in this torch build"
            return 0.0
        if time.perf_counter() - start > PROBE_BUDGET_S:
            notes[name] = "prepacking a 256 x 256 weight took too long"
            return 0.0
    try:
        got = with_kernel(small, name, rows_small).float()  # warm-up, and a correctness check
    except (RuntimeError, NotImplementedError) as exc:
        notes[name] = f"failed: {type(exc).__name__}"
        return 0.0
    error = float((got - reference).norm() / reference.norm())
    # int8 rounding stays well under this bound; AVX2's _int_mm saturates far above it
    # (measured: docs/results/2026-12-02-every-cpu.md)
    if not error <= 0.02:
        notes[name] = f"wrong results on this CPU ({100 * error:.0f} % off fp32)"
        return 0.0
    rate = small_rate(name, small, rows_small)
    if (
        2 * rows_big.shape[0] * K * N / (rate * scale * 1e9) > PROBE_BUDGET_S
    ):  # its big rate, by fp32's ratio
        notes[name] = "too slow on the small probe against fp32; not run on the big one"
        return rate
    if name == "onednn":
        start = time.perf_counter()
        if not big.pack(check=False) or time.perf_counter() - start > 2 * PROBE_BUDGET_S:
            notes[name] = "prepacking the 1536 x 8960 weight failed or took too long"
            return 0.0
    return big_rate(name, big, rows_big)


def decode_rate(name: str, big: Any, one: Any, notes: dict[str, str]) -> float:
    """GB/s of weights read by one decode kernel, cycling through DECODE_COPIES matrices of
    1,536 x 8,960 (more bytes than a CPU cache holds: decoding streams weights from memory)."""
    import torch

    from rag.llm.transformers.quant import QuantLinear

    layers = [big] + [
        QuantLinear(
            {**big.tensors(), "w8": torch.empty_like(big.w8), "w4": torch.empty_like(big.w4)}
        )
        for _ in range(DECODE_COPIES - 1)
    ]  # timing only: the copies' values are whatever the memory held
    for layer in layers:
        layer.decode_kernel = name

    def cycle() -> None:
        for layer in layers:
            layer(one)

    try:
        cycle()  # warm-up: touches every page
        seconds = timed(cycle, 3) / len(layers)
    except (RuntimeError, NotImplementedError) as exc:
        notes["decode-" + name] = f"failed: {type(exc).__name__}"
        return 0.0
    finally:
        big.decode_kernel = "int4"
    return K * N * (0.5 if name == "int4" else 1.0) / seconds / 1e9
