"""Generation speed per backend, against llama.cpp and against this machine's physical limits.

    python benchmarks/speed.py          # bf16, the quantized default and variants, llamacpp; 12 seeds cases
    python benchmarks/speed.py --configs quantized,bf16 --cases 67

Each configuration runs in its own process (clean peak RSS), with the same prompts, greedy:
load time, time to first token for ~400- and ~1,000-token prompts, decode tokens/s, peak RSS,
then end-to-end `RAG.ask` latency on the first --cases questions of evals/seeds.jsonl. The
parent process first measures the machine: memory bandwidth (numpy copy) and bf16 / int8 matmul
throughput (torch), and prints each configuration's decode speed as a share of the bandwidth
limit (weight bytes read per token) and as a ratio to llama.cpp. Timing uses `time` only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "bf16": {"llm": "transformers", "quantize": False, "fast_decode": False, "prefix_cache": False},
    "bf16+fast-decode": {"llm": "transformers", "quantize": False, "fast_decode": True},
    "quantized": {"llm": "transformers", "quantize": True},  # the default (prefill "mixed")
    "quantized+bf16-prefill": {"llm": "transformers", "quantize": True, "prefill": "bf16"},
    "quantized+top3": {"llm": "transformers", "quantize": True, "top_k": 3},
    "quantized+window": {"llm": "transformers", "quantize": True, "context": "window"},
    "quantized+int8+window": {"llm": "transformers", "quantize": True, "prefill": "int8", "context": "window"},
    "llamacpp": {"llm": "llamacpp"},
}
QUESTION = "Question : Résume ces articles en cinq phrases détaillées."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="bf16,quantized,quantized+bf16-prefill,quantized+top3,llamacpp")
    p.add_argument("--cases", type=int, default=12, help="seeds test-set questions answered per config")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    from rag.cli import offline_environment

    offline_environment()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args)), flush=True)
        return
    machine = limits(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"threads {args.threads}; bandwidth {machine['bandwidth_gbs']:.1f} GB/s, "
          f"bf16 matmul {machine['bf16_gflops']:.0f} GFLOP/s, int8 matmul {machine['int8_gops']:.0f} GOP/s",
          flush=True)  # fmt: skip
    results = {}
    for name in args.configs.split(","):
        cmd = [sys.executable, __file__, "--child", name, "--cases", str(args.cases),
               "--threads", str(args.threads), "--new-tokens", str(args.new_tokens)]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{name}: failed\n{out.stderr[-2000:]}", flush=True)
            continue
        results[name] = json.loads(line[7:])
        print(f"{name}: {results[name]}", flush=True)
    table(results, machine)


def child(name: str, args) -> dict:
    from rag.evaluate import load_testset
    from rag.llm import build_llm
    from rag.pipeline import RAG
    from rag.settings import Settings

    settings = Settings(threads=args.threads, **CONFIGS[name])
    llm = build_llm(settings)
    start = time.perf_counter()
    llm.load()
    out: dict = {"load_s": time.perf_counter() - start, "rss_after_load_gb": _rss_gb()}
    tok = _tokenizer(settings)
    for target in (400, 1000):
        messages = _messages(tok, target)
        # Warm-up of this length, on a different text: llama.cpp's server reuses the KV cache of
        # the longest common prefix with the previous request, which would hide the prefill.
        _run(llm, [messages[0], {"role": "user", "content": "Avant-propos. " + messages[1]["content"]}], args.new_tokens)
        if hasattr(llm, "prompts"):  # ours keeps several recent prompts: the ~400-token one
            llm.prompts.clear()  # starts like the ~1,000-token one
        first, total, text = _run(llm, messages, args.new_tokens)
        n = len(tok(text, add_special_tokens=False)["input_ids"])
        out[f"ttft_{target}_s"] = first
        out[f"decode_{target}_tps"] = (n - 1) / (total - first) if total > first else None
    if name.startswith("quantized"):
        from rag import quant

        out.update(quant.summary(llm._model))
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
        answers=len(cases), abstained=abstained,
        answer_ttft_p50_s=_pct(firsts, 50), answer_total_p50_s=_pct(totals, 50),
        answer_total_p95_s=_pct(totals, 95), peak_rss_gb=_rss_gb(),
    )  # fmt: skip
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
    bf16 = 2 * m * k * n / min(_time(lambda: torch.nn.functional.linear(x, w)) for _ in range(5)) / 1e9
    xi, wi = torch.randint(-127, 127, (m, k), dtype=torch.int8), torch.randint(-127, 127, (k, n), dtype=torch.int8)
    int8 = 2 * m * k * n / min(_time(lambda: torch._int_mm(xi, wi)) for _ in range(5)) / 1e9
    return {"bandwidth_gbs": bandwidth, "bf16_gflops": bf16, "int8_gops": int8}


def table(results: dict, machine: dict) -> None:
    bytes_per_token = {"bf16": 3.09e9, "bf16+fast-decode": 3.09e9, "llamacpp": 0.94e9}
    for name, r in results.items():
        if name.startswith("quantized"):
            bytes_per_token[name] = r.get("decode_weight_bytes", 0) + 0.0
    peer = results.get("llamacpp", {})
    print(f"\n{'config':<22} {'load s':>7} {'ttft@400':>9} {'ttft@1000':>10} {'decode t/s':>11} {'@1000':>6} "
          f"{'% of BW limit':>13} {'x llama.cpp':>11} {'answer ttft p50':>15} {'answer p50/p95 s':>17} {'peak RSS GB':>11}")  # fmt: skip
    for name, r in results.items():
        tps = r.get("decode_400_tps") or 0
        limit = machine["bandwidth_gbs"] * 1e9 / bytes_per_token.get(name, float("inf"))
        ratio = tps / peer["decode_400_tps"] if peer.get("decode_400_tps") else float("nan")
        print(f"{name:<22} {r['load_s']:>7.1f} {r['ttft_400_s']:>9.2f} {r['ttft_1000_s']:>10.2f} {tps:>11.1f} "
              f"{r.get('decode_1000_tps') or 0:>6.1f} "
              f"{100 * tps / limit:>12.0f}% {ratio:>11.2f} {r['answer_ttft_p50_s']:>15.2f} "
              f"{r['answer_total_p50_s']:>8.2f}/{r['answer_total_p95_s']:<8.2f} {r['peak_rss_gb']:>11.2f}")  # fmt: skip
    print("(decode limit = bandwidth / bytes of weights read per token; ratios use the ~400-token prompt)")


def _tokenizer(settings):
    from transformers import AutoTokenizer

    from rag.hf import converted_name
    from rag.weights import bundled_gguf

    import transformers

    folder = Path(settings.model_cache).expanduser() / converted_name(bundled_gguf(settings), transformers.__version__)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _messages(tok, target: int) -> list[dict]:
    words: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        words += path.read_text(encoding="utf-8").split()
    system = "Réponds en français, uniquement d'après les passages, en citant [n]."

    def size(n: int) -> int:
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": f"[1] {' '.join(words[:n])}\n\n{QUESTION}"}]
        return len(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])

    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if size(mid) <= target else (lo, mid - 1)
    return [{"role": "system", "content": system}, {"role": "user", "content": f"[1] {' '.join(words[:lo])}\n\n{QUESTION}"}]


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
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


if __name__ == "__main__":
    main()
