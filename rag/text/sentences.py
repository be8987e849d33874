"""Sentences of a passage or an answer: the unit quotes, checks and the testset work on."""

from __future__ import annotations

import re

# A part ending in one of these is no sentence end: "M. Fillon", "Mme Le Pen", "J.-C.", "U.S."
_ABBREVIATION = re.compile(
    r"(?:^|[\s(«\"“'’.-])(?:M|MM|Mme|Mmes|Mlle|Dr|Pr|Me|St|Ste|Mgr|Mr|Mrs|Ms|Jr|Sr|[A-Z])\.$"
)


def sentences(text: str) -> list[str]:
    """Split on sentence ends and line breaks. "A b. C d!" -> ["A b.", "C d!"];
    "M. Macron a parlé à M. Hollande." stays one sentence."""
    out: list[str] = []
    for line in re.split(r"\n+", text):
        joined = ""
        for part in re.split(r"(?<=[.!?…])\s+(?=[«\"“A-ZÀ-Ý0-9])", line):
            joined = f"{joined} {part}" if joined else part
            if not _ABBREVIATION.search(joined):
                out.append(joined)
                joined = ""
        if joined:
            out.append(joined)
    return [p.strip() for p in out if p.strip()]
