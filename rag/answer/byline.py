"""How a cited source is named to the user: its outlet, its publication date in the answer's
language, its title and its link — "Wikinews, 31 janvier 2017 — Un titre" — with the file name
standing in for an outlet nobody recorded. Plain functions for the CLI and the page alike.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from rag.core.types import Citation
from rag.text.timeline import MONTH_EN, MONTH_FR

DASH = " — "


def day_label(value: str | None, lang: str = "fr") -> str:
    """A stored date as a reader writes it, in French or English.

    day_label("2017-01-31") -> "31 janvier 2017"; day_label("2017-02-01", "en") -> "February 1,
    2017"; day_label("2017-01") -> "janvier 2017"; "" for None; anything else as it is.
    """
    value = (value or "").strip()
    parts = value[:10].split("-")
    months = MONTH_EN if lang == "en" else MONTH_FR
    try:
        if len(parts) == 3:
            day = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
            if lang == "en":
                return f"{months[day.month - 1]} {day.day}, {day.year}"
            return f"{'1er' if day.day == 1 else day.day} {months[day.month - 1]} {day.year}"
        if len(parts) == 2 and 1 <= int(parts[1]) <= 12:
            return f"{months[int(parts[1]) - 1]} {int(parts[0])}"
    except ValueError:
        pass
    return value


def byline(citation: Citation, lang: str = "fr") -> str:
    """Who published the cited passage and when, then its title.

    "Wikinews, 31 janvier 2017 — Un titre"; "a.txt, novembre 2024 — …" when the outlet is
    unknown (the file name stands in); the parts nobody recorded are left out.
    """
    who, when = citation.outlet or citation.source, day_label(citation.published, lang)
    head = f"{who}, {when}" if when else who
    title = " ".join((citation.title or "").split())
    return f"{head}{DASH}{title}" if title else head


def web_link(url: str | None) -> str | None:
    """The URL when it is a web address (http or https, with a host), else None: a stored
    "javascript:…" or a file path never becomes a link.

    web_link("https://fr.wikinews.org/wiki/X") -> the same; web_link("javascript:alert(1)") -> None
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def host(url: str) -> str:
    """The site of a web link, for a short label.

    host("https://fr.wikinews.org/wiki/X") -> "fr.wikinews.org"
    """
    return urlsplit(url).hostname or url
