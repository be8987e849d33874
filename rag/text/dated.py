"""What resolved dates become: how they are shown to the model ("jeudi dernier (7 novembre
2024)"), the keys a chunk is dated by in the index ("2024-11", "2024", "-10"), and the keys a
question's time constraint matches.

    found = timeline.resolve(text, "2024-11-10")
    annotate(text, marks(found, date="2024-11-10"))   # "… jeudi (7 novembre 2024) avec …"
    keys(found, "2024-11-10")                          # ["2024", "2024-11"]
    asked_keys("l'appel d'octobre ?", index_keys)      # {"-10", "2025-10", …}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rag.text.normalize import fold
from rag.text.timeline import (
    DAY_NAMES_EN,
    DAY_NAMES_FR,
    MONTH_EN,
    MONTH_FR,
    Value,
    When,
    parse_base,
    resolve,
)


def label(value: Value, precision: str, lang: str = "fr") -> str:
    """How a resolved date is shown: "7 novembre 2024", "novembre 2024", "semaine du 4 novembre
    2024", "octobre" (year unknown); English month names when `lang` is "en"."""
    year, month, day = value
    months = MONTH_FR if lang == "fr" else MONTH_EN
    if month is None:
        return str(year) if year else ""
    tail = f" {year}" if year else ""
    if precision in ("day", "week") and day:
        core = (
            f"{'1er' if day == 1 else day} {months[month - 1]}"
            if lang == "fr"
            else f"{months[month - 1]} {day}"
        )
        text = f"{core}{',' if lang == 'en' and year else ''}{tail}"
        if precision == "week":
            return f"semaine du {text}" if lang == "fr" else f"week of {text}"
        if year:  # the weekday too: "quel jour de la semaine" is asked as often as the date
            names = DAY_NAMES_FR if lang == "fr" else [d.capitalize() for d in DAY_NAMES_EN]
            return (
                f"{names[dt.date(year, month, day).weekday()]}{',' if lang == 'en' else ''} {text}"
            )
        return text
    return f"{months[month - 1]}{tail}"


Mark = tuple[int, int, str, str]  # (start, end, the expression as written, its date as shown)


def marks(
    found: list[When], lang: str = "fr", offset: int = 0, date: str | None = None
) -> list[Mark]:
    """The expressions whose date says more than they and the article's `date` do, with that
    date as shown, their places counted from `offset`.

    "jeudi" -> (s, e, "jeudi", "7 novembre 2024"); "hier" -> (…, "samedi 9 novembre 2024").
    Left out: "le 4 novembre" with no year known (it would repeat itself), and "jeudi" ->
    "novembre 2024" in an article dated 2024-11 (the prompt shows the article's date already; a
    month after a weekday made the model invent a day: docs/results/2026-12-03-event-dates.md)."""
    base = parse_base(date)
    out = []
    for w in found:
        year, month, _ = w.value
        if base and w.precision in ("month", "year"):
            (base_year, base_month, _), _ = base
            if year == base_year and (w.precision == "year" or month == base_month):
                continue
        shown = label(w.value, w.precision, lang)
        said = _words(w.text)
        first, _, rest = shown.partition(" ")
        weekday = fold(first) in DAY_NAMES_FR + DAY_NAMES_EN
        if weekday and (fold(first) in said or _words(rest) <= said):
            shown = rest  # "jeudi (7 novembre 2024)"; "le 10 novembre 2024": nothing to add
        if shown and not _words(shown) <= said:
            out.append((w.start - offset, w.end - offset, w.text, shown))
    return out


def _words(text: str) -> set[str]:
    """Folded words ("Thursday, November 7" -> {"thursday", "november", "7"})."""
    return set(fold(text).split())


def annotate(text: str, marked: Sequence[Mark], offset: int = 0) -> str:
    """`text` with each marked expression's date after it in parentheses (square brackets, as
    the issue first had them, are the citation markers' shape: the model copied "[novembre
    2024]" into its answers like a citation).

    annotate("Il a parlé jeudi.", marks(resolve("Il a parlé jeudi.", "2024-11-10")))
    -> "Il a parlé jeudi (7 novembre 2024)."
    `offset`: where `text` starts in the text the marks count from; a mark that does not fall
    on its expression there (another text) is skipped.
    """
    out, at = [], 0
    for start, end, written, shown in marked:
        start, end = start - offset, end - offset
        if start < at or end > len(text) or text[start:end] != written:
            continue
        out += [text[at:end], f" ({shown})"]
        at = end
    return "".join(out) + text[at:]


def keys(found: list[When], date: str | None = None) -> list[str]:
    """What a chunk is dated by, as metadata keys: "2024-11" and "2024" for a known month,
    "-10" for a month with no year, "2024" for a year; the article's own date counts too."""
    values = [(w.value, w.precision) for w in found]
    base = parse_base(date)
    if base:
        values.append(base)
    out: set[str] = set()
    for (year, month, day), precision in values:
        if year:
            out.add(str(year))
        if month and year:
            out.add(f"{year}-{month:02d}")
            if precision == "week" and day:  # a week that runs into the next month
                end = dt.date(year, month, day) + dt.timedelta(days=6)
                out.add(f"{end.year}-{end.month:02d}")
        elif month:
            out.add(f"-{month:02d}")
    return sorted(out)


def asked_keys(question: str, known: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The keys (as `keys` writes them) a question's time constraint matches: what it writes,
    with no date to count from. `known`: the keys of the index, for a month named without a year.

    asked_keys("l'appel de février 2025 ?") -> {"2025-02", "-02"} ("-02": February, any year)
    asked_keys("l'appel d'octobre", {"2024-10", "2025-10", "2025"}) -> {"-10", "2024-10", "2025-10"}
    asked_keys("après l'élection de 2024") -> {"2024"}; asked_keys("Qui a appelé ?") -> set()
    """
    out: set[str] = set()
    for w in resolve(question):
        year, month, _ = w.value
        if month:
            out.add(f"-{month:02d}")
            if year:
                out.add(f"{year}-{month:02d}")
            else:
                out |= {k for k in known if k.endswith(f"-{month:02d}") and k[0] != "-"}
        elif year:
            out.add(str(year))
    return out
