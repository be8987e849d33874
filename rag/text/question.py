"""The question as typed: valid Unicode, no control characters, not empty, not oversized."""

from __future__ import annotations

import re

from rag.core.errors import InputError


def valid_unicode(text: str) -> str:
    """Text without surrogates (they cannot be encoded; a terminal that is not UTF-8 makes them).

    "lib\udce9r\udce9" (Latin-1 bytes escaped by Python) -> "libéré"; a lone "\ud800" -> " "
    """
    if not re.search("[\ud800-\udfff]", text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", " ", text)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def check_question(question: str, max_chars: int) -> str:
    """Strip control characters and spaces; refuse empty or oversized questions."""
    if not isinstance(question, str):
        raise InputError("the question must be text")
    cleaned = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", valid_unicode(question)).strip()
    if not cleaned:
        raise InputError("the question is empty — type a question about the articles")
    if len(cleaned) > max_chars:
        raise InputError(
            f"the question is {len(cleaned):,} characters long; the limit is {max_chars:,} "
            "(RAG_MAX_QUESTION_CHARS) — ask a shorter question"
        )
    return cleaned
