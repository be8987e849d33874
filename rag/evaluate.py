"""The evaluation runner: load a JSONL test set, ask a bot each case, write one result line a case.

The bot is anything with `ask(question) -> Answer` (full runs) or
`retrieve(question) -> list[Passage]` (retrieval-only runs), so this module imports no model,
store or index code.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from rag.errors import InputError
from rag.metrics import summarize
from rag.types import Answer, Passage

REQUIRED_KEYS = ("id", "question", "answers", "sources")


class Bot(Protocol):
    """What `run_eval` needs; a full run calls only `ask`, a retrieval-only run only `retrieve`."""

    def ask(self, question: str) -> Answer: ...

    def retrieve(self, question: str) -> list[Passage]: ...


def _parse_case(line: str, where: str) -> dict[str, Any]:
    try:
        case = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: invalid JSON ({e.msg}); fix or remove this line") from None
    if not isinstance(case, dict):
        raise InputError(f"{where}: expected a JSON object with keys {', '.join(REQUIRED_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in case]
    if missing:
        raise InputError(f"{where}: missing key(s) {', '.join(missing)}")
    if not isinstance(case["id"], str) or not case["id"]:
        raise InputError(f"{where}: 'id' must be a non-empty string")
    if not isinstance(case["question"], str) or not case["question"].strip():
        raise InputError(f"{where}: 'question' must be a non-empty string")
    for key in ("answers", "sources"):
        value = case[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: '{key}' must be a list of strings")
    return case


def load_testset(path: str | Path) -> list[dict[str, Any]]:
    """Cases from a JSONL file, one `{"id", "question", "answers", "sources", ...}` a line.

    Extra keys ("lang", "type", "title"...) are kept; blank lines are skipped. Raises InputError
    naming the file and line for a broken line, a missing key or a duplicate id.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read test set {path}: {e}") from None
    cases: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        case = _parse_case(line, f"{path}:{lineno}")
        if case["id"] in first_line:
            first = first_line[case["id"]]
            where = f"{path}:{lineno}"
            raise InputError(f"{where}: duplicate id {case['id']!r} (first on line {first})")
        first_line[case["id"]] = lineno
        cases.append(case)
    if not cases:
        raise InputError(f"test set {path} has no cases")
    return cases


def _unique(ids: Any) -> list[str]:
    return list(dict.fromkeys(ids))


def _base(case: dict[str, Any]) -> dict[str, Any]:
    return {"id": case["id"], "question": case["question"]}


def _answer_fields(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [{"source": c.source, "quote": c.quote} for c in answer.citations],
        "cited_sources": _unique(c.source for c in answer.citations),
        "retrieved_sources": _unique(p.source for p in answer.passages),
        "retrieval_s": answer.timings.retrieval_s,
        "ttft_s": answer.timings.first_token_s,
        "total_s": answer.timings.total_s,
        "draft": getattr(answer, "draft", ""),
    }


def _retrieval_fields(passages: Sequence[Passage], seconds: float) -> dict[str, Any]:
    return {
        "answer": None,
        "abstained": None,
        "citations": None,
        "cited_sources": None,
        "retrieved_sources": _unique(p.source for p in passages),
        "retrieval_s": seconds,
        "ttft_s": None,
        "total_s": None,
        "draft": None,
    }


def _run_case(bot: Bot, case: dict[str, Any], retrieval_only: bool) -> dict[str, Any]:
    if retrieval_only:
        start = time.perf_counter()
        passages = bot.retrieve(case["question"])
        fields = _retrieval_fields(passages, time.perf_counter() - start)
    else:
        fields = _answer_fields(bot.ask(case["question"]))
    return {
        **_base(case),
        **fields,
        "expected": case["answers"],
        "gold_sources": case["sources"],
        "type": case.get("type"),
        "lang": case.get("lang"),
    }


def run_eval(
    bot: Bot,
    cases: Sequence[dict[str, Any]],
    out_path: str | Path,
    retrieval_only: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Ask (or only retrieve for) each case, write a JSON line a case to out_path; return summary.

    Lines are flushed as they are written, so an interrupted run keeps its finished cases.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    selected = list(cases if limit is None else cases[:limit])
    results: list[dict[str, Any]] = []
    with out_path.open("w", encoding="utf-8") as out:
        for case in tqdm(selected, desc="eval", unit="case", file=sys.stderr, disable=not progress):
            result = _run_case(bot, case, retrieval_only)
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()
            results.append(result)
    return summarize(results)
