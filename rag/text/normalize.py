"""Text folded for matching: one normaliser, and the citation markers it strips.

`fold` is what every comparison of words goes through (the checks, BM25's tokens, the date
patterns); the evaluation's `normalize` is `fold` plus the answer-scoring conventions.
"""

from __future__ import annotations

import re
import unicodedata

# Citation markers as the checker writes them: "[1]", "[2, 3]".
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Any marker a model may write, for stripping before a comparison: "[ 1 ]", "[1; 2]".
ANY_MARKER = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
# Ligatures that NFKD leaves whole.
LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


def fold(text: str) -> str:
    """Lowercase, strip accents, split French elisions, keep letters and digits.

    "L’Élysée d'Égypte" -> "l elysee d egypte"
    """
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", text))
