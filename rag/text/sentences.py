"""Sentences of a passage or an answer: the unit quotes, checks and the testset work on."""

from __future__ import annotations

import re


def sentences(text: str) -> list[str]:
    """Split on sentence ends and line breaks. "A b. C d!" -> ["A b.", "C d!"]"""
    parts = re.split(r"(?<=[.!?…])\s+(?=[«\"“A-ZÀ-Ý0-9])|\n+", text)
    return [p.strip() for p in parts if p.strip()]
