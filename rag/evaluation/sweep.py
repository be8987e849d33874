"""Settings sweeps: run the evaluation once per combination of setting values, one table out.

    grid = parse_grid(["top_k=3,5", "fusion=rrf,bm25"])     # Settings field names, typed values
    rows = run_sweep(make_bot, Settings(), cases, Path("sweep/"), grid)

A combination that changes how documents are chunked or embedded (INDEX_FIELDS) gets its own
index under the output folder, so it never rewrites the index the other runs share.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.core.errors import InputError
from rag.core.settings import FIELDS, SECTIONS, Settings, section_of
from rag.evaluation.runner import Bot, run_eval

INDEX_FIELDS = frozenset(
    {
        "sources",
        "chunk_size",
        "chunk_overlap",
        "window_size",
        "window_overlap",
        "embedder",
        "max_file_bytes",
        "latent_weight",  # ingest computes latent terms only when it is above 0
    }
)
COLUMNS = [
    ("hit@1", "hit@1", "rate"),
    ("hit@5", "hit@5", "rate"),
    ("mrr", "MRR", "score"),
    ("ndcg@10", "nDCG@10", "score"),
    ("contains_answer", "contains", "rate"),
    ("source_cited", "source", "rate"),
    ("faithfulness", "faithful", "rate"),
    ("abstention_accuracy", "abst. unans.", "rate"),
    ("false_abstention", "abst. ans.", "rate"),
    ("retrieval_p50_s", "retr. p50", "seconds"),
    ("total_p50_s", "total p50", "seconds"),
]


def _parse_value(name: str, raw: str) -> Any:
    from pydantic import TypeAdapter, ValidationError

    annotation = SECTIONS[section_of(name)].model_fields[name].annotation
    if annotation is None:
        raise InputError(f"--grid {name}: this setting declares no type to read {raw!r} with")
    try:
        return TypeAdapter(annotation).validate_python(raw)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"]
        raise InputError(f"--grid {name}={raw}: {why}") from None


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """ "name=v1,v2" specs -> {name: [typed values]}; InputError for an unknown name or bad value.

    parse_grid(["top_k=3,5"]) -> {"top_k": [3, 5]}
    """
    grid: dict[str, list[Any]] = {}
    valid = sorted(FIELDS)
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise InputError(f"--grid {spec!r}: write NAME=VALUE[,VALUE…], e.g. --grid top_k=3,5")
        if name not in FIELDS:
            raise InputError(f"--grid: unknown setting {name!r}; valid: {', '.join(valid)}")
        if name in grid:
            raise InputError(f"--grid: {name} is given twice; list all its values in one --grid")
        grid[name] = [_parse_value(name, v.strip()) for v in values.split(",") if v.strip()]
    if not grid:
        raise InputError("give at least one --grid NAME=VALUE[,VALUE…]")
    return grid


def combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, the first setting varying slowest.

    {a: [1, 2], b: [x]} -> [{a:1,b:x}, {a:2,b:x}]"""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def combo_name(combo: dict[str, Any]) -> str:
    """A file-name-safe label: {"top_k": 3, "fusion": "rrf"} -> "top_k=3,fusion=rrf"."""
    parts = [f"{k}={v}" for k, v in combo.items()]
    return ",".join("".join(c if c.isalnum() or c in "=._-" else "-" for c in p) for p in parts)


def run_sweep(
    make_bot: Callable[[Settings, bool], Bot],
    base: Settings,
    cases: Sequence[dict[str, Any]],
    out_dir: Path,
    grid: dict[str, list[Any]],
    retrieval_only: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Evaluate every combination; write out_dir/<combo>.jsonl and out_dir/sweep.md; return rows.

    `make_bot(settings, own_index)` builds the bot for one combination; `own_index` is True when
    the combination needs its own index (it is then under out_dir and must be ingested).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for combo in combinations(grid):
        name = combo_name(combo)
        own_index = bool(INDEX_FIELDS & set(combo))
        update = dict(combo, **({"index_dir": out_dir / f"index-{name}"} if own_index else {}))
        bot = make_bot(base.updated(**update), own_index)
        summary = run_eval(bot, cases, out_dir / f"{name}.jsonl", retrieval_only, limit, progress)
        rows.append((combo, summary))
    (out_dir / "sweep.md").write_text(format_table(rows) + "\n", encoding="utf-8")
    return rows


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    return {"rate": f"{100 * value:.1f}%", "score": f"{value:.3f}", "seconds": f"{value:.3f}s"}[
        kind
    ]


def format_table(rows: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """A Markdown table: one row per combination, the metrics any run measured as columns."""
    names = list(rows[0][0]) if rows else []
    columns = [c for c in COLUMNS if any(s.get(c[0]) is not None for _, s in rows)]
    head = [*names, "cases", *(label for _, label, _ in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for combo, s in rows:
        cells = (
            [str(combo[n]) for n in names]
            + [str(s["cases"])]
            + [_fmt(s.get(k), kind) for k, _, kind in columns]
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
