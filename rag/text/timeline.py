"""Time expressions resolved against the article's date: "jeudi" in an article of Sunday
10 November 2024 is Thursday 7 November 2024.

    found = resolve(text, "2024-11-10")          # [When("jeudi", value=(2024, 11, 7), ...), ...]

What the dates become (labels in the prompt, keys in the index, a question's keys) is in
rag.text.dated.

What a library does, dateparser does (imported lazily): reading a phrase as a date, in French
or English, with number words ("il y a trois jours", "1er novembre", "November 10th, 2024",
"hier", "two days ago"). Written here, because dateparser does not do it (measured: it returns
None for "mardi dernier", "le mois précédent", "ce mercredi", "la veille", and its
`search_dates` takes 0.13 s a sentence and reads "novembre" as the 10th):
- finding the expressions (one regex, below), so that dateparser sees only short phrases
  (under a millisecond each);
- the year of a date written without one, and the week of a weekday: the nearest to the
  article's date ("le 20 janvier" in November 2024 is 20 January 2025; "mercredi" in an article
  of Sunday is the coming Wednesday, "jeudi" the past Thursday; "dernier" / "prochain" force the
  direction), as news writes them;
- precision: a value keeps only what the text says (a month named alone stays a month, an
  article dated "2024-11" gives weekdays a month, not an invented day);
- anaphora: "la veille", "le lendemain", "le mois précédent" count from the last date the text
  gave before them (the same or the previous sentence), not from the article's date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from rag.text.calendar import DAYS, MONTHS, month_number
from rag.text.normalize import fold
from rag.text.numbers import number_value, number_words

VERSION = 4  # of the rules below: a change re-dates every document at the next ingest
Value = tuple[int | None, int | None, int | None]  # (year, month, day); None: not known
DAY_NAMES_FR, DAY_NAMES_EN = DAYS.split()[:7], DAYS.split()[7:]  # Monday..Sunday
MONTH_FR = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
MONTH_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = "|".join(DAYS.split())
_UNIT = r"jours?|semaines?|mois|ans?|années?|days?|weeks?|months?|years?"
# "il y a trois jours", "two days ago": number words of the one table (rag.text.numbers) up to 20
_NUM = "|".join(
    [r"\d{1,3}", "une?", "an?", *(w for w in number_words("words") if (number_value(w) or 0) <= 20)]
)

EXPRESSION = re.compile(
    rf"""(?ix)\b
    (?:(?P<date>(?:(?:{_DAYS})\s+)?(?:le\s+|the\s+)?\d{{1,2}}(?:er|st|nd|rd|th)?\s+(?:{MONTHS})(?:\s+\d{{4}})?
        | (?:(?:{_DAYS}),?\s+)?(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)
    | (?P<monthyear>(?:{MONTHS})\s+\d{{4}})
    | (?P<anaphor>la\s+veille|le\s+lendemain|le\s+jour\s+même
        | (?:le|du)\s+mois\s+précédent|la\s+semaine\s+précédente|l['’]année\s+précédente
        | the\s+(?:day\s+before|next\s+day|following\s+day|previous\s+(?:day|week|month|year)))
    | (?P<deictic>avant-hier|après-demain|hier|aujourd['’]hui|demain|yesterday|today|tomorrow
        | (?:la|cette)\s+semaine(?:\s+(?:dernière|passée|prochaine))?
        | (?:le|ce)\s+mois(?:-ci|\s+(?:dernier|passé|prochain))
        | l['’]an(?:née)?\s+(?:dernier|dernière|passé|passée|prochain|prochaine) | cette\s+année
        | (?:last|next|this)\s+(?:week|month|year)
        | il\s+y\s+a\s+(?:{_NUM})\s+(?:{_UNIT}) | (?:{_NUM})\s+(?:{_UNIT})\s+ago)
    | (?P<weekday>(?:(?:ce|this|last|next|on)\s+)?(?:{_DAYS})(?:\s+(?:dernier|prochain))?)
    | (?P<month>(?:{MONTHS}))
    | (?P<year>(?:19|20)\d\d)
    )\b""",
)
_PAST = re.compile(r"(?i)\b(?:dernier|last)\b")
_FUTURE = re.compile(r"(?i)\b(?:prochain|next)\b")
# Tense near a bare weekday: "prévue mercredi" is the coming one, "s'est entretenu mercredi" the
# past one. The marker nearest the weekday in its sentence decides; none: the nearest day.
_TENSE = re.compile(
    r"(?i)\b(?:(?P<future>seront|sera|fera|feront|ira|iront|aura|auront|va|vont|doit|doivent|devrait|"
    r"devraient|prévue?s?|will|shall|is due|are due|scheduled|\w{2,}(?:era|eront|ira|iront))|"
    r"(?P<past>a|ont|avait|avaient|"
    r"s['’]est|se sont|s['’]était|était|étaient|eut|had|has|have|was|were|did|said|spoke|told|met|"
    r"held|\w{3,}ed))\b"
)
# English months that are also verbs: taken only after a word that introduces a month ("in May")
_VERBS = {"may", "march"}
_MONTH_BEFORE = re.compile(r"(?i)\b(?:in|of|since|early|late|mid|by|until|from|last|next|this)\s+$")


@dataclass(frozen=True)
class When:
    """A time expression of a text and the date it stands for."""

    start: int
    end: int
    text: str  # as written: "jeudi"
    value: Value  # (2024, 11, 7); (None, 10, None) for "octobre" with no year to go by
    precision: str  # "day", "week", "month" or "year"


def parse_base(date: str | None) -> tuple[Value, str] | None:
    """An article date ("2024-11-10", "2024-11") as a value and its precision; None if none."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", date or "")
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        return None
    if m.group(3):
        try:
            dt.date(year, month, int(m.group(3)))
        except ValueError:
            return (year, month, None), "month"
        return (year, month, int(m.group(3))), "day"
    return (year, month, None), "month"


def resolve(text: str, date: str | None = None) -> list[When]:
    """Each time expression of `text` with the date it stands for, in order of appearance.

    An expression that nothing resolves (a weekday in an undated article) is left out.
    resolve("Un incident s'est produit jeudi à Flamanville", "2017-02-10")[0].value -> (2017, 2, 9)
    """
    base = parse_base(date)
    found: list[When] = []
    anchor: tuple[Value, str, int] | None = None  # the last date the text gave, and where
    for m in EXPRESSION.finditer(text):
        kind = m.lastgroup
        if kind is None:  # every alternative of EXPRESSION is a named group
            continue
        written = m.group()
        if (
            kind == "month"
            and fold(written) in _VERBS
            and not _MONTH_BEFORE.search(text[: m.start()])
        ):
            continue  # "You may go", "March on": "in May", "early March" are months
        if kind == "year" and _inside_number(text, m):
            continue
        if kind == "anaphor":
            recent = (
                anchor if anchor and _sentences_between(text, anchor[2], m.start()) <= 1 else None
            )
            got = _anaphor(written, (recent[0], recent[1])) if recent else None  # no date: no guess
        elif kind == "weekday":
            got = _weekday(written, base, _tense(text, m.start(), m.end()))
        else:
            got = _resolve(kind, written, base)
        if got is None:
            continue
        value, precision = got
        found.append(When(m.start(), m.end(), written, value, precision))
        if kind in ("date", "monthyear", "month"):
            anchor = (value, precision, m.end())
    return found


def _inside_number(text: str, m: re.Match) -> bool:
    """ "2024" in "1 2024,5" or "12024" is no year."""
    before, after = text[max(0, m.start() - 1) : m.start()], text[m.end() : m.end() + 2]
    return bool(re.match(r"[\d.,]", before) or re.match(r"[.,]\d|\d", after))


def _sentences_between(text: str, a: int, b: int) -> int:
    return len(re.findall(r"[.!?](?:\s|$)", text[a:b]))


def _resolve(kind: str, written: str, base: tuple[Value, str] | None) -> tuple[Value, str] | None:
    if kind == "year":
        return (int(written), None, None), "year"
    if kind == "monthyear":
        name, year_written = written.rsplit(None, 1)
        return (int(year_written), month_number(name), None), "month"
    if kind == "month":
        month = month_number(written)
        if month is None:  # the pattern's month names are all known: not reached
            return None
        year = _nearest_year(month, 15, base) if base else None
        return (year, month, None), "month"
    if kind == "date":
        return _date(written, base)
    return _deictic(written, base)


def _date(written: str, base) -> tuple[Value, str] | None:
    parsed = _parse(re.sub(rf"(?i)^(?:{_DAYS}),?\s+", "", written), None)
    if parsed is None:
        return None
    has_year = re.search(r"\d{4}", written)
    if has_year:
        return (parsed.year, parsed.month, parsed.day), "day"
    year = _nearest_year(parsed.month, parsed.day, base) if base else None
    return (year, parsed.month, parsed.day), "day"


def _nearest_year(month: int, day: int, base) -> int:
    """The year that puts (month, day) nearest the base date; a tie goes to the past."""
    (year, base_month, base_day), _ = base
    here = dt.date(year, base_month, base_day or 15)
    best = None
    for y in (year - 1, year, year + 1):
        try:
            gap = (dt.date(y, month, day) - here).days
        except ValueError:  # 29 February
            continue
        key = (abs(gap), gap > 0)
        if best is None or key < best[0]:
            best = (key, y)
    return best[1] if best else year


def _tense(text: str, start: int, end: int) -> str | None:
    """ "past", "future" or None: the tense marker nearest [start, end) in its sentence."""
    left = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    right = min([i for i in (text.find(c, end) for c in ".!?\n") if i >= 0] or [len(text)])
    best = None
    for m in _TENSE.finditer(text, left, right):
        gap = start - m.end() if m.end() <= start else m.start() - end
        if gap >= 0 and (best is None or gap < best[0]):
            best = (gap, m.lastgroup)
    return best[1] if best else None


def _weekday(written: str, base, tense: str | None = None) -> tuple[Value, str] | None:
    if base is None:
        return None
    (year, month, day), precision = base
    if precision != "day":
        return (year, month, None), "month"
    day_name = re.search(rf"(?i){_DAYS}", written)
    if day_name is None:  # the weekday pattern matched one of these names: not reached
        return None
    name = fold(day_name.group())
    target = (DAY_NAMES_FR + DAY_NAMES_EN).index(name) % 7
    here = dt.date(year, month, day)
    back = (here.weekday() - target) % 7  # days back to the last such day (0: today)
    ahead = (7 - back) % 7  # days ahead to the next one (0: today)
    if _PAST.search(written):  # "mardi dernier"
        days = -(back or 7)
    elif _FUTURE.search(written):  # "lundi prochain"
        days = ahead or 7
    elif tense:
        days = -back if tense == "past" else ahead
    else:  # the nearest: "jeudi" on a Sunday is 3 days back, "mercredi" 3 days ahead
        days = -back if back <= 3 else ahead
    when = here + dt.timedelta(days=days)
    return (when.year, when.month, when.day), "day"


def _deictic(written: str, base) -> tuple[Value, str] | None:
    """From the base: hier, la semaine dernière, le mois prochain, il y a trois jours, last year…"""
    if base is None:
        return None
    (year, month, day), precision = base
    w = fold(written)
    step = (
        -1
        if re.search(r"derniere?|passee?|last|ago|il y a", w)
        else 1
        if re.search(r"prochaine?|next", w)
        else 0
    )
    if (
        re.search(r"\b(?:an|annee|year)\b", w)
        and "ans" not in w.split()
        and not re.search(r"\d|il y a|ago", w)
    ):
        return (year + step, None, None), "year"
    if re.search(r"\bmois\b|\bmonth\b", w) and not re.search(r"il y a|ago", w):
        return _month_step(year, month, step), "month"
    if precision != "day":  # a day or a week in an article dated only by its month
        return (year, month, None), "month"
    here = dt.date(year, month, day)
    if re.search(r"\bsemaine\b|\bweek\b", w) and not re.search(r"il y a|ago", w):
        monday = here - dt.timedelta(days=here.weekday()) + dt.timedelta(weeks=step)
        return (monday.year, monday.month, monday.day), "week"
    parsed = _parse(written, here)
    if parsed is None:
        return None
    exact = re.search(r"jour|day|hier|demain|yesterday|today|tomorrow|aujourd", w)
    if exact:
        return (parsed.year, parsed.month, parsed.day), "day"
    if re.search(r"semaine|week", w):
        return (parsed.year, parsed.month, parsed.day), "week"
    if re.search(r"\bans?\b|annee|year", w):
        return (parsed.year, None, None), "year"
    return (parsed.year, parsed.month, None), "month"


def _anaphor(written: str, anchor) -> tuple[Value, str] | None:
    """la veille / le lendemain / le mois précédent, counted from `anchor`."""
    if anchor is None:
        return None
    (year, month, day), precision = anchor
    w = fold(written)
    if re.search(r"mois|month", w):
        return (_month_step(year, month, -1), "month") if month else None
    if re.search(r"annee|year", w):
        return ((year - 1, None, None), "year") if year else None
    if re.search(r"semaine|week", w):
        if precision != "day" or year is None:
            return ((year, month, None), "month") if month else None
        monday = dt.date(year, month, day) - dt.timedelta(
            days=dt.date(year, month, day).weekday() + 7
        )
        return (monday.year, monday.month, monday.day), "week"
    step = -1 if re.search(r"veille|before|previous", w) else 0 if "meme" in w else 1
    if precision != "day" or day is None:
        return ((year, month, None), "month") if month else None
    if year is None:  # "le lendemain" of "le 4 novembre" with no year: still the 5th
        when = dt.date(2001, month, day) + dt.timedelta(days=step)  # a year with no 29 February
        return (None, when.month, when.day), "day"
    when = dt.date(year, month, day) + dt.timedelta(days=step)
    return (when.year, when.month, when.day), "day"


def _month_step(year: int | None, month: int | None, step: int) -> Value:
    if month is None:
        return (year, None, None)
    index = month - 1 + step
    return ((year + index // 12) if year is not None else None, index % 12 + 1, None)


@lru_cache(maxsize=4096)
def _parse(phrase: str, base: dt.date | None) -> dt.date | None:
    import dateparser

    settings = {"PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    if base is not None:
        settings["RELATIVE_BASE"] = dt.datetime(base.year, base.month, base.day)
    parsed = dateparser.parse(phrase, languages=["fr", "en"], settings=settings)
    return parsed.date() if parsed else None
