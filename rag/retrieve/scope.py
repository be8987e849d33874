"""A question restricted to a date range and to outlets (`rag.core.types.Scope`): read from what
a user typed, and said twice over the same chunk metadata — as a Chroma `where` for dense search,
and as a test on a stored chunk for BM25 and latent terms — so that every ranking of a fusion sees
the same chunks.

    scope = scope_from("2017-01", "2017-03-31", ["Wikinews"])  # since 1 January, until 31 March
    where(scope)   # {"$and": [{"published_day": {"$gte": 20170101}}, …, {"outlet": {"$in": …}}]}
    admits(scope, stored_chunk)                                 # the same test, in Python

Dates are compared as `published_day` numbers (YYYYMMDD): Chroma's $gte and $lte take numbers,
not ISO strings (chromadb 1.5 refuses a string operand).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable

from rag.core.errors import InputError
from rag.core.types import Scope
from rag.index.records import StoredChunk

_DAY = re.compile(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def parse_day(text: str | dt.date | None, end: bool = False, name: str = "date") -> dt.date | None:
    """A day from "2017-01-31", "2017-01" or "2017": the first day of that month or year, or its
    last one with `end` (an "until" date). None for an empty value; a one-line InputError else.

    parse_day("2017-02", end=True) -> date(2017, 2, 28)
    """
    if isinstance(text, dt.date):
        return text
    text = (text or "").strip()
    if not text:
        return None
    m = _DAY.fullmatch(text)
    try:
        if not m:
            raise ValueError(text)
        year, month, day = int(m[1]), m[2], m[3]
        if month is None:
            return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)
        if day is None:
            last = calendar.monthrange(year, int(month))[1]
            return dt.date(year, int(month), last if end else 1)
        return dt.date(year, int(month), int(day))
    except ValueError:
        raise InputError(
            f"bad {name} {text!r}: write it as YYYY-MM-DD (or YYYY-MM, YYYY), e.g. 2017-01-31"
        ) from None


def scope_from(
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    outlets: Iterable[str] | str | None = (),
) -> Scope:
    """The Scope a user asked for (CLI flags, the page's fields); blank values restrict nothing."""
    if isinstance(outlets, str):
        outlets = [outlets]
    names = tuple(o.strip() for o in outlets or () if o and o.strip())
    return Scope(
        since=parse_day(since, name="start date"),
        until=parse_day(until, end=True, name="end date"),
        outlets=names,
    )


def _day(value: dt.date) -> int:
    return value.year * 10_000 + value.month * 100 + value.day


def where(scope: Scope | None) -> dict | None:
    """The Chroma `where` selecting the scope's records (None when it restricts nothing)."""
    if scope is None or scope.empty:
        return None
    clauses: list[dict] = []
    if scope.since:
        clauses.append({"published_day": {"$gte": _day(scope.since)}})
    if scope.until:
        clauses.append({"published_day": {"$lte": _day(scope.until)}})
    if scope.outlets:
        clauses.append({"outlet": {"$in": list(scope.outlets)}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def admits(scope: Scope | None, chunk: StoredChunk) -> bool:
    """Whether `where(scope)` selects the chunk: the same test on its stored metadata."""
    if scope is None or scope.empty:
        return True
    if scope.since or scope.until:
        day = chunk.published_day
        if day is None:
            return False
        if (scope.since and day < _day(scope.since)) or (scope.until and day > _day(scope.until)):
            return False
    return not scope.outlets or chunk.outlet in scope.outlets
