"""Test-set tooling: check a JSONL test set thoroughly, and draft candidate cases from documents.

`check` reports every problem with its line number (where `load_testset` stops at the first).
`draft` writes cloze-style questions whose answer is a date, a number or a name copied from a
document sentence: no model is involved, and every drafted line carries `"draft": true`, which
`load_testset` refuses until a person has reviewed the case and removed the flag.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rag.core.types import Document
from rag.evaluation.runner import parse_line, read_lines
from rag.evaluation.selective import NO_ANSWER_TYPES
from rag.text.calendar import DAYS as DAY_NAMES
from rag.text.calendar import MONTHS
from rag.text.language import detect
from rag.text.numbers import number_words
from rag.text.sentences import sentences

DRAFT_STATUS = "draft — review before use"


def _question_key(question: str) -> str:
    """Questions that differ only in case, spacing or final punctuation are the same question."""
    return " ".join(re.sub(r"[\s?!.«»\"']+$", "", question.casefold()).split())


def check(path: str, doc_ids: set[str] | None = None, index_name: str = "the index") -> list[str]:
    """Every problem of a test set as "LINE: problem" (or "problem" for the file); [] when clean.

    Checks each line's schema (as `load_testset`), duplicate ids and questions, answerable cases
    without sources, unanswerable cases with answers, and (given `doc_ids`) gold sources missing
    from the index.
    """
    problems: list[str] = []
    first_id: dict[str, int] = {}
    first_question: dict[str, int] = {}
    count = 0
    for lineno, line in enumerate(read_lines(path, "test set"), start=1):
        if not line.strip():
            continue
        count += 1
        case, found = parse_line(line)
        problems += [f"{lineno}: {p}" for p in found]
        if not isinstance(case, dict):
            continue
        problems += [f"{lineno}: {p}" for p in _case_checks(case, doc_ids, index_name)]
        if isinstance(case.get("id"), str):
            if case["id"] in first_id:
                problems.append(
                    f"{lineno}: duplicate id {case['id']!r} (first on line {first_id[case['id']]})"
                )
            first_id.setdefault(case["id"], lineno)
        if isinstance(case.get("question"), str) and case["question"].strip():
            key = _question_key(case["question"])
            if key in first_question:
                problems.append(f"{lineno}: same question as line {first_question[key]}")
            first_question.setdefault(key, lineno)
    if not count:
        problems.append("no cases")
    return problems


def _case_checks(case: dict[str, Any], doc_ids: set[str] | None, index_name: str) -> list[str]:
    answers, sources = case.get("answers"), case.get("sources")
    problems = []
    if isinstance(answers, list) and isinstance(sources, list):  # else the schema check said so
        unanswerable = case.get("type") in NO_ANSWER_TYPES
        if unanswerable and answers:
            problems.append(f"case {case.get('id')!r} is {case['type']} but lists answers")
        elif not unanswerable and answers and not sources:
            problems.append(f"answerable case {case.get('id')!r} has no sources")
        elif not unanswerable and not answers and not sources:
            problems.append(
                f"case {case.get('id')!r} has neither answers nor sources — add them, "
                'or mark it "type": "unanswerable"'
            )
    if doc_ids is not None and isinstance(sources, list):
        missing = [s for s in sources if isinstance(s, str) and s not in doc_ids]
        if missing:
            problems.append(f"source(s) {', '.join(map(repr, missing))} not in {index_name}")
    return problems


# -- drafting -----------------------------------------------------------------------------

DAYS = "|".join(DAY_NAMES.split())  # matched ignoring case
NUMBER_WORDS = "|".join(number_words())  # the one table (rag.text.numbers)
SPANS = [
    (
        "date",
        re.compile(
            rf"\b\d{{1,2}}(?:er)?\s+(?:{MONTHS})(?:\s+\d{{4}})?\b|\b(?:{MONTHS})\s+\d{{1,2}}(?:,\s+\d{{4}})?\b"
            rf"|\b(?:{MONTHS})\s+\d{{4}}\b|\b(?:{DAYS})\b|\b(?:19|20)\d\d\b",
            re.IGNORECASE,
        ),
    ),
    (
        "number",
        re.compile(
            rf"\b(?:\d[\d\s,.]*\d|\d|{NUMBER_WORDS})\s+"
            r"(?:(?:millions?|milliards?|billion|million|heures?|hours?|jours?|days?|ans|years?|%"
            r"|pour cent|percent|dollars|euros|personnes|people)\b(?:\s+(?:de|d'|of)\s+\w+)?)",
            re.IGNORECASE,
        ),
    ),
    (
        "name",
        re.compile(r"(?<!^)(?<![.!?]\s)\b[A-ZÉÈ][\w-]+(?:\s+(?:de\s+|du\s+|la\s+)?[A-ZÉÈ][\w-]+)+"),
    ),
]
TEMPLATES = {
    "fr": {
        "date": "Quand ? Complétez : « {cloze} »",
        "number": "Combien ? Complétez : « {cloze} »",
        "name": "Qui ou quoi ? Complétez : « {cloze} »",
    },
    "en": {
        "date": "When? Fill in: “{cloze}”",
        "number": "How many / how much? Fill in: “{cloze}”",
        "name": "Who or what? Fill in: “{cloze}”",
    },
}
BLANK = "____"


def find_span(sentence: str) -> tuple[str, str] | None:
    """The span a question could ask for: ("date"|"number"|"name", text), dates first.

    find_span("Le 25 juillet 2018, Le Canard enchaîné a rapporté les faits.")
    -> ("date", "25 juillet 2018")
    """
    for kind, pattern in SPANS:
        m = pattern.search(sentence)
        if m:
            return kind, m.group(0).strip(" ,.")
    return None


def _cloze(sentence: str, span: str, limit: int = 260) -> str:
    """The sentence with the span blanked, cut to about `limit` characters around the blank."""
    text = " ".join(sentence.split()).replace(span, BLANK, 1)
    if len(text) <= limit:
        return text
    at = text.index(BLANK)
    start = max(0, at - limit // 2)
    return ("…" if start else "") + text[start : start + limit].strip() + "…"


def draft_cases(documents: Iterable[Document], per_doc: int = 3) -> list[dict[str, Any]]:
    """Up to `per_doc` draft cases a document, from sentences spread across it (distinct
    answers)."""
    drafts: list[dict[str, Any]] = []
    for doc in documents:
        candidates: list[tuple[str, str, str]] = []
        for sentence in sentences(doc.text):
            found = find_span(sentence)
            if found and len(sentence) >= 40 and found[1] not in [c[2] for c in candidates]:
                candidates.append((sentence, *found))
        step = max(1, len(candidates) // max(per_doc, 1))
        for n, (sentence, kind, span) in enumerate(candidates[::step][:per_doc], start=1):
            lang = detect(sentence)
            drafts.append(
                {
                    "id": f"draft-{re.sub(r'[^A-Za-z0-9-]+', '-', doc.id).strip('-')}-{n}",
                    "question": TEMPLATES[lang][kind].format(cloze=_cloze(sentence, span)),
                    "answers": [span],
                    "sources": [doc.id],
                    "lang": lang,
                    "type": "date" if kind == "date" else "fact",
                    "draft": True,
                    "status": DRAFT_STATUS,
                    "context": " ".join(sentence.split()),
                }
            )
    return drafts


def documents_from_chunks(chunks: Sequence[Any]) -> list[Document]:
    """Documents rebuilt from an index's stored chunks (overlapping sentences kept once)."""
    by_doc: dict[str, list[Any]] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    docs = []
    for doc_id, parts in sorted(by_doc.items()):
        parts.sort(
            key=lambda c: int(c.id.rsplit(":", 1)[-1]) if c.id.rsplit(":", 1)[-1].isdigit() else 0
        )
        seen = list(dict.fromkeys(s for c in parts for s in sentences(c.text)))
        docs.append(
            Document(
                id=doc_id, title=parts[0].title, text=" ".join(seen), published=parts[0].published
            )
        )
    return docs


def to_jsonl(cases: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
