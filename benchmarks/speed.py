"""Generation speed per backend on this CPU: the default (RAG_LLM=auto), llama.cpp and bf16.

    python benchmarks/speed.py                                  # default,llamacpp,bf16; 12 seeds cases
    python benchmarks/speed.py --configs default --cases 0 --first-start default
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/speed.py   # an AVX2-only CPU, emulated

Prints the CPU's flags and the kernel choice (rag.llm.transformers.kernels, as `rag doctor`), then, for each
configuration, each in its own process (clean peak RSS), with the same prompts, greedy:
first start (an empty model cache: joining the parts, preparing the model; --first-start),
warm load, time to first token for ~400- and ~1,000-token prompts, decode tokens/s, peak RSS,
and end-to-end `RAG.ask` latency on the first --cases questions of evals/seeds.jsonl. The
parent also measures memory bandwidth (numpy copy) and bf16 / int8 matmul throughput (torch)
and prints each configuration's ratio to llama.cpp in the same run. Timing uses `time` only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "default": {"llm": "auto"},  # what a user gets: transformers or llama.cpp, chosen per CPU
    "transformers": {"llm": "transformers"},  # the quantised PyTorch path, forced
    "llamacpp": {"llm": "llamacpp"},
    "bf16": {"llm": "transformers", "quantize": False, "fast_decode": False, "prefix_cache": False},
    "transformers+bf16-prefill": {"llm": "transformers", "prefill": "bf16"},
    "transformers+top3": {"llm": "transformers", "top_k": 3},
}
QUESTION = "Question : Résume ces articles en cinq phrases détaillées."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="default,llamacpp,bf16")
    p.add_argument(
        "--first-start",
        default="default,llamacpp",
        help="configs whose first start (empty model cache) is also timed; bf16's takes minutes",
    )
    p.add_argument(
        "--cases", type=int, default=12, help="seeds test-set questions answered per config"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model-cache", help=argparse.SUPPRESS)
    args = p.parse_args()
    from rag.cli.main import offline_environment

    offline_environment()
    if args.child:
        result = cold(args.child, args) if args.cold else child(args.child, args)
        print("RESULT " + json.dumps(result), flush=True)
        os._exit(0)  # an xllamacpp server that answered nothing can hang the interpreter's exit
    from rag.core.settings import Settings
    from rag.llm.auto import choose_backend
    from rag.llm.transformers import kernels

    machine = limits(args.threads)
    print(
        f"machine: {kernels.cpu_info()[0]}, {os.cpu_count()} CPUs, threads {args.threads}; "
        f"bandwidth {machine['bandwidth_gbs']:.1f} GB/s, bf16 matmul {machine['bf16_gflops']:.0f} GFLOP/s, "
        f"int8 matmul {machine['int8_gops']:.0f} GOP/s; ONEDNN_MAX_CPU_ISA="
        f"{os.environ.get('ONEDNN_MAX_CPU_ISA', '')} ATEN_CPU_CAPABILITY={os.environ.get('ATEN_CPU_CAPABILITY', '')}",
        flush=True,
    )
    choice = choose_backend(Settings(threads=args.threads))
    print("\n".join(choice.lines()), flush=True)
    results = {}
    for name in args.configs.split(","):
        common = [
            "--cases",
            str(args.cases),
            "--threads",
            str(args.threads),
            "--new-tokens",
            str(args.new_tokens),
        ]
        first = None
        if name in args.first_start.split(","):
            empty = tempfile.mkdtemp(prefix="rag-speed-cache-")
            try:
                first = _child(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        name,
                        "--cold",
                        "--model-cache",
                        empty,
                        *common,
                    ],
                    name,
                )
            finally:
                shutil.rmtree(empty, ignore_errors=True)
        out = _child([sys.executable, __file__, "--child", name, *common], name)
        if out is None:
            continue
        if first:
            out.update(
                first_start_s=first["first_start_s"], first_start_rss_gb=first["peak_rss_gb"]
            )
        results[name] = out
        print(f"{name}: {out}", flush=True)
    table(results, machine)


def _child(cmd: list[str], name: str) -> dict | None:
    out = subprocess.run(cmd, capture_output=True, text=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        print(f"{name}: failed\n{out.stderr[-2000:]}", flush=True)
        return None
    return json.loads(line[7:])


def cold(name: str, args) -> dict:
    """First start: load with an empty model cache (joins the parts, prepares the model)."""
    from rag.core.settings import Settings
    from rag.llm.registry import build_llm

    settings = Settings(threads=args.threads, model_cache=Path(args.model_cache), **CONFIGS[name])
    llm = build_llm(settings)
    start = time.perf_counter()
    llm.load()
    return {"first_start_s": time.perf_counter() - start, "peak_rss_gb": _rss_gb()}


def child(name: str, args) -> dict:
    from rag.core.settings import Settings
    from rag.evaluation.runner import load_testset
    from rag.llm.registry import build_llm
    from rag.pipeline import RAG

    settings = Settings(threads=args.threads, **CONFIGS[name])
    llm = build_llm(settings)
    start = time.perf_counter()
    llm.load()
    out: dict = {
        "load_s": time.perf_counter() - start,
        "rss_after_load_gb": _rss_gb(),
        "engine": getattr(getattr(llm, "chosen", llm), "name", name),
    }
    tok = _tokenizer(settings)
    for target in (400, 1000):
        messages = _messages(tok, target)
        # Warm-up of this length, on a different text: llama.cpp's server reuses the KV cache of
        # the longest common prefix with the previous request, which would hide the prefill.
        _run(
            llm,
            [messages[0], {"role": "user", "content": "Avant-propos. " + messages[1]["content"]}],
            args.new_tokens,
        )
        if hasattr(llm, "prompts"):  # ours keeps several recent prompts: the ~400-token one
            llm.prompts.clear()  # starts like the ~1,000-token one
        first, total, text = _run(llm, messages, args.new_tokens)
        n = len(tok(text, add_special_tokens=False)["input_ids"])
        out[f"ttft_{target}_s"] = first
        out[f"decode_{target}_tps"] = (n - 1) / (total - first) if total > first else None
    model = getattr(llm, "_model", None)
    if model is not None and settings.generation.quantize:
        from rag.llm.transformers import quant

        out.update(quant.summary(model))
    bot = RAG(settings, llm=llm)
    cases = load_testset(ROOT / "evals" / "seeds.jsonl")[: args.cases]
    firsts, totals, abstained = [], [], 0
    for case in cases:
        answer = bot.ask(case["question"])
        totals.append(answer.timings.total_s)
        abstained += answer.abstained
        if answer.timings.first_token_s is not None:
            firsts.append(answer.timings.first_token_s)
    out.update(
        answers=len(cases),
        abstained=abstained,
        answer_ttft_p50_s=_pct(firsts, 50),
        answer_total_p50_s=_pct(totals, 50),
        answer_total_p95_s=_pct(totals, 95),
        peak_rss_gb=_rss_gb(),
    )
    return out


def limits(threads: int) -> dict:
    """Memory bandwidth (GB/s, read + write of a 512 MB copy) and matmul throughput."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    a = np.ones(64 * 1024 * 1024)  # 512 MB of float64
    b = np.empty_like(a)
    best = min(_time(lambda: np.copyto(b, a)) for _ in range(5))
    bandwidth = 2 * a.nbytes / best / 1e9
    m, k, n = 512, 1536, 8960
    x, w = torch.randn(m, k).bfloat16(), torch.randn(n, k).bfloat16()
    bf16 = (
        2 * m * k * n / min(_time(lambda: torch.nn.functional.linear(x, w)) for _ in range(5)) / 1e9
    )
    xi, wi = (
        torch.randint(-127, 127, (m, k), dtype=torch.int8),
        torch.randint(-127, 127, (k, n), dtype=torch.int8),
    )
    int8 = 2 * m * k * n / min(_time(lambda: torch._int_mm(xi, wi)) for _ in range(5)) / 1e9
    return {"bandwidth_gbs": bandwidth, "bf16_gflops": bf16, "int8_gops": int8}


def table(results: dict, machine: dict) -> None:
    peer = results.get("llamacpp", {})
    print(
        "\n| config | engine | first start s | first-start RSS GB | warm load s | first token @400 s | "
        "@1000 s | decode tok/s | x llama.cpp decode | x llama.cpp first token @1000 | answer first token p50 s | "
        "answer total p50 / p95 s | peak RSS GB |"
    )
    print("|" + "---|" * 13)
    for name, r in results.items():
        tps = r.get("decode_400_tps") or 0
        dec = tps / peer["decode_400_tps"] if peer.get("decode_400_tps") else float("nan")
        ttft = r["ttft_1000_s"] / peer["ttft_1000_s"] if peer.get("ttft_1000_s") else float("nan")
        print(
            f"| {name} | {r.get('engine', '')} | {_f(r.get('first_start_s'), 0)} | {_f(r.get('first_start_rss_gb'))} | "
            f"{r['load_s']:.1f} | {r['ttft_400_s']:.2f} | {r['ttft_1000_s']:.2f} | {tps:.1f} | {dec:.2f} | {ttft:.2f} | "
            f"{_f(r.get('answer_ttft_p50_s'))} | {_f(r.get('answer_total_p50_s'))} / {_f(r.get('answer_total_p95_s'))} | "
            f"{r['peak_rss_gb']:.2f} |"
        )
    print(
        "(decode tok/s from the ~400-token prompt; x llama.cpp: this config / llama.cpp in the same run, "
        "decode higher is better, first token lower is better)"
    )


def _f(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _tokenizer(settings):
    """The bundled model's tokenizer: from a prepared model folder when there is one (fast),
    else from the GGUF itself (~10 s)."""
    from transformers import AutoTokenizer

    from rag.llm.weights import bundled_gguf

    gguf = bundled_gguf(settings)
    for folder in sorted(Path(settings.generation.model_cache).expanduser().glob("*")):
        if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file():
            return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)


def _messages(tok, target: int) -> list[dict]:
    words: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        words += path.read_text(encoding="utf-8").split()
    system = "Réponds en français, uniquement d'après les passages, en citant [n]."

    def size(n: int) -> int:
        msgs = [
            {"role": "system", "content": system},
            {"role": "user", "content": f"[1] {' '.join(words[:n])}\n\n{QUESTION}"},
        ]
        return len(
            tok.apply_chat_template(
                msgs, add_generation_prompt=True, tokenize=True, return_dict=True
            )["input_ids"]
        )

    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if size(mid) <= target else (lo, mid - 1)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"[1] {' '.join(words[:lo])}\n\n{QUESTION}"},
    ]


def _run(llm, messages, new_tokens: int) -> tuple[float, float, str]:
    start = time.perf_counter()
    first = None
    pieces = []
    for piece in llm.stream(messages, new_tokens):
        first = first or time.perf_counter() - start
        pieces.append(piece)
    return first or 0.0, time.perf_counter() - start, "".join(pieces)


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


if __name__ == "__main__":
    main()
