"""Building and checking answers. `words.json` holds the word lists the checks use: package data
that a reader can see and extend, not code."""

import json
from functools import cache
from pathlib import Path


@cache
def word_list(name: str) -> frozenset[str]:
    """The words of list `name` in words.json: word_list("event_words") -> {"call", ...}."""
    data = json.loads((Path(__file__).parent / "words.json").read_text(encoding="utf-8"))
    return frozenset(data[name]["words"])
