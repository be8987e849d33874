"""The options every `rag` command takes, declared once: the parser is built from them, the
settings are read from them, and command plugins learn from them which options take a value.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.core.choices import FUSIONS, LLM_BACKENDS

# (flag, settings field, argparse keywords)
GLOBAL_OPTIONS: tuple[tuple[str, str, dict], ...] = (
    (
        "--index",
        "index_dir",
        {"type": Path, "help": "index folder (default .rag, or RAG_INDEX_DIR)"},
    ),
    ("--llm", "llm", {"choices": LLM_BACKENDS, "help": "generation backend"}),
    (
        "--embedder",
        "embedder",
        {"help": "'e5-small' (bundled), 'fake', or a sentence-transformers path"},
    ),
    ("--top-k", "top_k", {"type": int, "help": "passages shown to the model"}),
    ("--fusion", "fusion", {"choices": FUSIONS, "help": "retrieval ranking"}),
)
# The global options that take a value (all of them today): what a plugin's argv routing skips.
VALUE_OPTIONS = tuple(flag for flag, _, kw in GLOBAL_OPTIONS if kw.get("action") is None)


def add_global_options(parser: argparse.ArgumentParser) -> None:
    for flag, _, kw in GLOBAL_OPTIONS:
        parser.add_argument(flag, **kw)


def settings_from(args: argparse.Namespace):
    """Settings from the environment, with the options given on the command line on top."""
    from rag.core.settings import Settings

    overrides = {
        field: getattr(args, flag[2:].replace("-", "_"), None) for flag, field, _ in GLOBAL_OPTIONS
    }
    if getattr(args, "paths", None):
        overrides["sources"] = args.paths
    if getattr(args, "wait", None) is not None:
        overrides["ingest_wait"] = args.wait
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
