"""An article's publication date, from the most reliable place first.

A reader passes what the file's metadata says (an HTML meta or JSON-LD date, a front matter
`date`, a record field, a PDF or DOCX property) to `iso`; only where there is none does it call
`stated`, which takes a date from the text only where the text states its own date: after a
"Publié le" / "Published" cue (the cue words are package data, `datelines.json`), or as the
dateline opening the article ("31 janvier 2017 . –", "PARIS, 3 mars 2017 (AFP) –"). A date in
the body ("Le 10 novembre 2024, le journal a rapporté…") is the date of an event, never taken.

    iso("2017-01-31T10:00:00+01:00") -> "2017-01-31";  iso("2024-11") -> "2024-11"
    stated("Titre\\n\\n31 janvier 2017 . – Le conseil…") -> "2017-01-31"
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path

from rag.text.calendar import DAYS, MONTHS

# A date with its year, as a dateline or a cue writes it: "1er janvier 2016", "January 31, 2017",
# "2017-01-31", "31/01/2017".
_PHRASE = (
    rf"(?:(?:{'|'.join(DAYS.split())}),?\s+)?"
    rf"(?:\d{{1,2}}(?:er|st|nd|rd|th)?\s+(?:{MONTHS})\s+\d{{4}}"
    rf"|(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{4})"
)
# The dateline: an optional place ("PARIS, "), the date, an optional hour, place and agency in
# any order ("14h30", "15:37 (UTC)", ", Montpellier", "(AFP)"), then a dash.
_PLACE = r"[^\W\d_][^\W\d]*(?:[ '’-][^\W\d]+){0,3}"
_HOUR = r"\d{1,2}\s*[h:]\s*\d{0,2}(?:\s*[A-Z]{3,4})?"  # "14h30", "15:37 UTC"
_AFTER = rf"(?:\s*,?\s*(?:{_HOUR}|\([^()\n]{{1,30}}\)|{_PLACE}))"
DATELINE = re.compile(
    rf"^(?:{_PLACE}\s*,\s*)?(?P<date>{_PHRASE}){_AFTER}{{0,3}}\s*\.?\s*[–—-]", re.IGNORECASE
)
LEAD_LINES = 12  # the dateline is among the first lines (after the title, a "see also" line)


@lru_cache(maxsize=1)
def _cue() -> re.Pattern[str]:
    words = json.loads((Path(__file__).with_name("datelines.json")).read_text("utf-8"))
    alternation = "|".join(re.escape(w) for w in sorted(words["published"], key=len, reverse=True))
    return re.compile(
        rf"(?:^|\W)(?:{alternation})\s*:?\s*(?:le\s+|on\s+)?(?P<date>{_PHRASE})", re.IGNORECASE
    )


def iso(value: object) -> str | None:
    """A metadata date as "YYYY-MM-DD" (or "YYYY-MM" when it gives only a month); None when
    it is not a date. Takes date and datetime objects, ISO strings, and written dates."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str | int) or not str(value).strip():
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}", text) and 1 <= int(text[5:]) <= 12:
        return text
    try:
        return dt.datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    return _parse(text)


def _parse(phrase: str) -> str | None:
    """A written date with day, month and year (dateparser, French or English, day first)."""
    import dateparser

    parsed = dateparser.parse(
        phrase,
        languages=["fr", "en"],
        settings={"DATE_ORDER": "DMY", "REQUIRE_PARTS": ["day", "month", "year"]},
    )
    return parsed.date().isoformat() if parsed else None


def stated(text: str) -> str | None:
    """The date the text states as its own: a "Publié le …" cue or a dateline in its first
    lines; None when it states none (an event date in the body is not the article's)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()][:LEAD_LINES]
    for line in lines:
        found = DATELINE.match(line) or _cue().search(line[:200])
        if found:
            date = _parse(_ordinal(found.group("date")))
            if date:
                return date
    return None


def _ordinal(phrase: str) -> str:
    """Without the ordinal suffix dateparser does not read.

    "1er janvier 2016" -> "1 janvier 2016"
    """
    return re.sub(r"(\d)(?:er|st|nd|rd|th)\b", r"\1", phrase)
