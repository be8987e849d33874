"""llama.cpp's own HTTP server (from the xllamacpp wheel) in a child process, for the tests of
the OpenAI-compatible clients (tests/test_remote.py, tests/test_remote_embed.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from rag.core.settings import Settings

API_KEY = "test-key-123"
MODEL_CACHE = Path(os.environ.get("RAG_TEST_MODEL_CACHE", Path.home() / ".cache" / "rag-news"))

# argv: GGUF path, port, API key, model alias; `params` sets more CommonParams on `p`
SERVER_CODE = """
import sys, time, xllamacpp as xlc
path, port, key, alias = sys.argv[1:5]
p = xlc.CommonParams()
p.model.path = path
p.n_parallel, p.warmup, p.verbosity = 1, False, -1
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 2
p.hostnames, p.port, p.api_keys, p.model_alias = ["127.0.0.1"], int(port), [key], {alias}
{params}
server = xlc.Server(p)
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_cpp_server(alias: str, params: str) -> Iterator[str]:
    """llama.cpp's server with the bundled GGUF on a free loopback port, `params` (Python lines
    setting `p.…`) applied: yields its /v1 URL once /health answers (fails the test after 120 s
    or if the server exits)."""
    pytest.importorskip("xllamacpp", reason="xllamacpp is not installed: pip install -e '.[test]'")
    from rag.llm.weights import bundled_gguf

    gguf = bundled_gguf(Settings(model_cache=MODEL_CACHE))
    port = free_port()
    code = SERVER_CODE.replace("{params}", textwrap.dedent(params))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(gguf), str(port), API_KEY, alias],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited: {proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("llama.cpp server did not answer /health within 120 s")
        yield f"{base}/v1"
    finally:
        proc.kill()
        proc.wait(timeout=10)
