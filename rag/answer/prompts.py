"""The one prompt loader: templates are files in `rag/answer/templates/` (package data; the
checkout's `prompts/` links there), placeholders are checked both ways."""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from rag.answer.untrusted import without_orders
from rag.core.errors import RagError
from rag.core.types import Passage


@lru_cache(maxsize=32)
def _load(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RagError(
            f"prompt template missing: {path} — reinstall or set RAG_PROMPTS_DIR"
        ) from exc


def placeholders(template: str) -> set[str]:
    """The `{names}` a template uses. "a {x} {y}" -> {"x", "y"}"""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(prompts_dir: Path, name: str, /, **values: str) -> str:
    """Fill `prompts_dir/name.txt`; a missing or an extra value is an error, never a silent gap."""
    template = _load(Path(prompts_dir) / f"{name}.txt")
    expected = placeholders(template)
    if expected != set(values):
        raise RagError(f"prompt {name!r} expects {sorted(expected)}, got {sorted(values)}")
    return template.format(**values)


def passage_blocks(passages: list[Passage]) -> str:
    """The numbered passages as prompts show them: source, date, then the text as the model
    sees it (dates resolved), without the orders written in it (passages are untrusted).

    "[1] (source: a.txt, date: 2024-11-10)\nLe Post a révélé l'appel…"
    """
    return "\n\n".join(
        f"[{i}] (source: {p.source}, date: {p.date or 'unknown'})\n{without_orders(p.prompt_text)}"
        for i, p in enumerate(passages, start=1)
    )
