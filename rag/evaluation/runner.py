"""The evaluation runner: load a JSONL test set, ask a bot each case, write one result line a case.

The bot is anything with `ask(question) -> Answer` (full runs) or `retrieve(question) ->
list[Passage]` (retrieval-only runs), so this module imports no model, store or index code.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from rag.core.errors import InputError
from rag.core.types import Answer, Chunk, Passage
from rag.evaluation.metrics import semantic_similarity, summarize
from rag.evaluation.selective import CASE_TYPES

REQUIRED_KEYS = ("id", "question", "answers", "sources")
# What every result line has (retrieval-only lines hold null answers); timings, type: optional.
RESULT_KEYS = (
    "id",
    "question",
    "answer",
    "abstained",
    "cited_sources",
    "retrieved_sources",
    "expected",
    "gold_sources",
)
DRAFT_HINT = "is a draft; review it and remove the draft flag"


class Bot(Protocol):
    """What `run_eval` needs; a full run calls `ask` (and, when the bot has one,
    `warm(prime=True)` first, as `RAG` does), a retrieval-only run only `retrieve`."""

    def ask(self, question: str) -> Answer: ...

    def retrieve(self, question: str) -> list[Passage]: ...


def case_problems(case: Any) -> list[str]:
    """Everything wrong with one parsed test-set line ([] when it is a usable case).

    case_problems({"id": "q1", "question": "?", "answers": "x", "sources": []})
    -> ["'answers' must be a list of strings"]
    """
    if not isinstance(case, dict):
        return [f"expected a JSON object with keys {', '.join(REQUIRED_KEYS)}"]
    problems = []
    missing = [k for k in REQUIRED_KEYS if k not in case]
    if missing:
        problems.append(f"missing key(s) {', '.join(missing)}")
    if "id" in case and (not isinstance(case["id"], str) or not case["id"]):
        problems.append("'id' must be a non-empty string")
    if "question" in case and (
        not isinstance(case["question"], str) or not case["question"].strip()
    ):
        problems.append("'question' must be a non-empty string")
    for key in ("answers", "sources"):
        value = case.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"'{key}' must be a list of strings")
    if "sides" in case and not _valid_sides(case["sides"]):
        problems.append(
            '\'sides\' must be a list of two or more {"answers": [...], "sources": [...]} '
            "objects, one for each account of a conflict"
        )
    if "type" in case and case["type"] not in CASE_TYPES:
        problems.append(f"unknown 'type' {case['type']!r}: use one of {', '.join(CASE_TYPES)}")
    if case.get("type") == "false_premise" and not (
        isinstance(case.get("premise"), str) and case["premise"].strip()
    ):
        problems.append(
            "a false_premise case needs 'premise': what the question assumes that no article says"
        )
    if case.get("draft") is True:
        problems.append(f"case {case.get('id')!r} {DRAFT_HINT}")
    return problems


def _valid_sides(sides: Any) -> bool:
    """A conflict case's accounts: each with its accepted strings and the sources that give it."""
    return (
        isinstance(sides, list)
        and len(sides) >= 2
        and all(
            isinstance(side, dict)
            and set(side) == {"answers", "sources"}
            and side["answers"]
            and all(
                isinstance(side[k], list) and all(isinstance(v, str) for v in side[k]) for k in side
            )
            for side in sides
        )
    )


def parse_line(line: str) -> tuple[Any, list[str]]:
    """(the parsed case or None, its problems): invalid JSON is a problem, not an exception."""
    try:
        case = json.loads(line)
    except json.JSONDecodeError as e:
        return None, [f"invalid JSON ({e.msg}); fix or remove this line"]
    return case, case_problems(case)


def read_lines(path: str | Path, what: str) -> list[str]:
    """The lines of a UTF-8 file, or InputError naming the file."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {what} {path}: {e}") from None


def json_lines(path: str | Path, what: str, hint: str = "") -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line of a JSONL file; InputError naming the
    file and line for one that is not JSON (`hint` is appended to that message)."""
    for lineno, line in enumerate(read_lines(path, what), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{lineno}: invalid JSON ({e.msg}){hint}") from None


def load_testset(path: str | Path) -> list[dict[str, Any]]:
    """Cases from a JSONL file, one `{"id", "question", "answers", "sources", ...}` a line.

    Extra keys ("lang", "type", "title"...) are kept; blank lines are skipped. Raises InputError
    naming the file and line for a broken line, a missing key, a duplicate id or a draft case
    (`"draft": true`, written by `rag testset draft`: drafts are never scored as gold).
    """
    cases: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(read_lines(path, "test set"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        case, problems = parse_line(line)
        if problems:
            raise InputError(f"{where}: {problems[0]}")
        if case["id"] in first_line:
            raise InputError(
                f"{where}: duplicate id {case['id']!r} (first on line {first_line[case['id']]})"
            )
        first_line[case["id"]] = lineno
        cases.append(case)
    if not cases:
        raise InputError(f"test set {path} has no cases")
    return cases


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Result lines written by `run_eval`; InputError for a missing file or a malformed line."""
    results = []
    for lineno, result in json_lines(path, "results", " — is this a results file?"):
        missing = (
            [k for k in RESULT_KEYS if k not in result] if isinstance(result, dict) else RESULT_KEYS
        )
        if missing:
            raise InputError(
                f"{path}:{lineno}: not a result line of 'rag eval' (missing {', '.join(missing)})"
            )
        results.append(result)
    if not results:
        raise InputError(f"results file {path} is empty")
    return results


def _unique(ids: Any) -> list[str]:
    return list(dict.fromkeys(ids))


def _base(case: dict[str, Any]) -> dict[str, Any]:
    return {"id": case["id"], "question": case["question"]}


def _citations(answer: Answer) -> list[dict[str, Any]]:
    """Each citation with the full text of the passage it points at (faithfulness reads it)."""
    texts = {
        p.chunk_id: p.prompt_text for p in answer.passages
    }  # as the model saw it: dates resolved
    return [
        {
            "source": c.source,
            "chunk_id": c.chunk_id,
            "number": c.number,
            "quote": c.quote,
            "passage": texts.get(c.chunk_id),
        }
        for c in answer.citations
    ]


def _answer_fields(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "short": answer.short,
        "abstained": answer.abstained,
        "conflict": answer.conflict,
        "second_look": answer.second_look,  # the draft shown is the second (RAG_RETRY_WITHHELD)
        "withheld": answer.withheld,  # the reason code when abstained (rag.answer.checks)
        "citations": _citations(answer),
        "cited_sources": _unique(c.source for c in answer.citations),
        "retrieved_sources": _unique(
            p.source for p in sorted(answer.passages, key=lambda p: p.rank)
        ),
        "retrieval_s": answer.timings.retrieval_s,
        "ttft_s": answer.timings.first_token_s,
        "total_s": answer.timings.total_s,
        "short_s": answer.timings.short_s,
        "draft": getattr(answer, "draft", ""),
        # the answer's confidence (the risk–coverage curve sorts by it) and what it is built from
        "confidence": answer.confidence,
        "signals": asdict(answer.signals) if answer.signals else None,
        "confidence_s": answer.timings.confidence_s,
        # the passages in the order the model saw them: the checks can be replayed on the draft
        # (benchmarks/ablation.py)
        "passages": [asdict(p) for p in answer.passages],
    }


def _retrieval_fields(passages: Sequence[Passage], seconds: float) -> dict[str, Any]:
    return {
        "answer": None,
        "short": None,
        "abstained": None,
        "conflict": None,
        "second_look": None,
        "withheld": None,
        "citations": None,
        "cited_sources": None,
        "retrieved_sources": _unique(p.source for p in passages),
        "retrieval_s": seconds,
        "ttft_s": None,
        "total_s": None,
        "short_s": None,
        "draft": None,
        "confidence": None,
        "signals": None,
        "confidence_s": None,
        "passages": None,
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
        **({"sides": case["sides"]} if "sides" in case else {}),
        **({"premise": case["premise"]} if "premise" in case else {}),
    }


def finished_cases(
    out_path: Path, cases: Sequence[dict[str, Any]], retrieval_only: bool
) -> dict[str, dict]:
    """The result lines of an earlier run that `--resume` keeps, by id.

    Refuses (InputError) lines from another test set or from the other kind of run; a broken last
    line (a run killed while writing) is dropped, since that case will simply run again.
    """
    if not out_path.exists():
        return {}
    lines = [ln for ln in read_lines(out_path, "results") if ln.strip()]
    by_id = {c["id"]: c for c in cases}
    kept: dict[str, dict] = {}
    for lineno, line in enumerate(lines, start=1):
        try:
            result = json.loads(line)
        except json.JSONDecodeError:
            if lineno == len(lines):
                break
            raise InputError(
                f"{out_path}:{lineno}: invalid JSON — cannot resume; drop --resume to start over"
            ) from None
        case = by_id.get(result.get("id"))
        if case is None or case["question"] != result.get("question"):
            raise InputError(
                f"{out_path} holds case {result.get('id')!r}, which is not in this test set — "
                "resume only with the test set that wrote it, or drop --resume"
            )
        if (result.get("answer") is None) != retrieval_only:
            kind = "retrieval-only" if result.get("answer") is None else "full"
            raise InputError(
                f"{out_path} is from a {kind} run — resume it the same way, or drop --resume"
            )
        kept[case["id"]] = result
    return kept


def write_results(path: Path, results: Iterable[dict[str, Any]]) -> None:
    """Replace a results file in one step (a crash leaves the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8"
    )
    os.replace(tmp, path)


def run_eval(
    bot: Bot,
    cases: Sequence[dict[str, Any]],
    out_path: str | Path,
    retrieval_only: bool = False,
    limit: int | None = None,
    progress: bool = True,
    resume: bool = False,
) -> dict[str, Any]:
    """Ask (or only retrieve for) each case, write a JSON line a case to out_path; return summary.

    Lines are flushed as they are written, so an interrupted run keeps its finished cases; with
    `resume`, the finished cases already in out_path are kept and only the others run (without
    it, out_path is overwritten). The file ends in test-set order.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    selected = list(cases if limit is None else cases[:limit])
    done = finished_cases(out_path, cases, retrieval_only) if resume else {}
    todo = [c for c in selected if c["id"] not in done]
    results = dict(done)
    prime = getattr(bot, "warm", None)
    if todo and not retrieval_only and prime is not None:
        prime(prime=True)  # timings then measure answers, not a fresh process's first prompt
    with out_path.open("w", encoding="utf-8") as out:
        for result in done.values():  # written first: a second interruption loses nothing
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
        bar = tqdm(
            total=len(selected),
            initial=len(selected) - len(todo),
            desc="eval",
            unit="case",
            file=sys.stderr,
            disable=not progress,
        )
        for case in todo:
            result = _run_case(bot, case, retrieval_only)
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()
            results[case["id"]] = result
            bar.update()
        bar.close()
    order = [c["id"] for c in cases if c["id"] in results]
    if resume and done:
        write_results(out_path, (results[i] for i in order))
    return summarize([results[c["id"]] for c in selected])


def add_semantic_similarity(results: Sequence[dict[str, Any]], embedder: Any) -> None:
    """Store `semantic_similarity` (answer vs the reference answers) on each answered line."""
    for r in results:
        if r.get("answer") is not None and not r.get("abstained") and r.get("expected"):
            r["semantic_similarity"] = semantic_similarity(r["answer"], r["expected"], embedder)


def add_passages(results: Sequence[dict[str, Any]], chunks: Iterable[Chunk]) -> int:
    """Fill in `passage` on citations of older result lines that lack it; return how many.

    The passage is the first chunk of the cited document that contains the quote verbatim: the
    chunks must come from the same documents and chunk settings as the index that answered.
    """
    from rag.answer.citations import quote_in_source

    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    filled = 0
    for r in results:
        for c in r.get("citations") or []:
            if c.get("passage"):
                continue
            found = next(
                (ch for ch in by_doc.get(c["source"], []) if quote_in_source(c["quote"], ch.text)),
                None,
            )
            if found is not None:
                c.update(chunk_id=found.id, passage=found.text)
                filled += 1
    return filled
