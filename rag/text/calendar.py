"""Month and weekday names (French and English) and the date patterns built from them, written
once for the ingest (an article's date), the checks (dates an answer states) and retrieval
(the months a question names).
"""

from __future__ import annotations

import re

from rag.text.normalize import fold

# Month names as a regex alternation, accented and folded spellings.
MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
    "décembre|decembre|"
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
# Folded month names -> 1..12.
MONTH_NUMBERS = {
    name: i % 12 + 1
    for i, name in enumerate(
        [
            "janvier",
            "fevrier",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "aout",
            "septembre",
            "octobre",
            "novembre",
            "decembre",
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
# Weekdays: French Monday..Sunday, then English.
DAYS = (
    "lundi mardi mercredi jeudi vendredi samedi dimanche "
    "monday tuesday wednesday thursday friday saturday sunday"
)
DATE_WORDS = set(fold(MONTHS.replace("|", " ")).split()) | set(DAYS.split())

# "10 novembre 2024" anywhere: an article's date in its first lines.
FULL_DATE = re.compile(rf"\b(\d{{1,2}})(?:er)?\s+({MONTHS})\s+(\d{{4}})\b", re.IGNORECASE)
# A day and month, either order, with an optional year: "20 janvier", "November 10, 2024".
DAY_MONTH = re.compile(
    rf"\b(?:(\d{{1,2}})(?:er)?\s+({MONTHS})|({MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?),?(?:\s+(\d{{4}}))?",
    re.IGNORECASE,
)
# A date clause opening a sentence: "Le 10 février 2025, …", "On November 10, …", "En 2024, …".
LEADING_DATE = re.compile(
    rf"^\s*(?:(?:le|on|in|en)\s+)?(?:\d{{1,2}}(?:er)?\s+(?:{MONTHS})(?:\s+\d{{4}})?|(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?(?:\s+\d{{4}})?|\d{{4}})\s*,\s*",
    re.IGNORECASE,
)


def month_number(name: str) -> int | None:
    """1..12 for a French or English month name, any case or accents: "Février" -> 2."""
    return MONTH_NUMBERS.get(fold(name))


def dates(text: str) -> set[tuple[int, int, str | None]]:
    """(day, month, year or None) of each day-and-month date in `text`, French or English."""
    out = set()
    for m in DAY_MONTH.finditer(text):
        day, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        number = month_number(month)
        if number:
            out.add((int(day), number, m.group(5)))
    return out


def day_number(value: str | None) -> int | None:
    """An ISO day as a number the store can compare (Chroma's $gte/$lte take numbers only).

    day_number("2017-01-31") -> 20170131; day_number("2017-01") -> None (no day), as for "" or
    a date that does not exist.
    """
    import datetime as dt

    try:
        day = dt.date.fromisoformat((value or "")[:10])
    except ValueError:
        return None
    return day.year * 10_000 + day.month * 100 + day.day
