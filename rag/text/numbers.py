"""Numbers in text, in digits or words, with the nouns they count; and the check that an answer's
numbers are the passages' numbers of the same things.

The number words are package data (the `numbers` of rag/text/lexicon/<lang>.json), one table for
every language: number_value("seize") -> 16, number_value("deux cent cinquante") -> 250,
number_value("1,5 million") -> 1500000, number_value("45 000") -> 45000.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from rag.text.analysis import LANGS, lexicon, stopwords
from rag.text.calendar import MONTH_NUMBERS
from rag.text.normalize import MARKER

_TOKEN = re.compile(
    r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)*|[%$€£]"
    r"|[^\W\d_]+|[.!?;:(),]"
)
_PERCENT = re.compile(r"\b(?:pour|per) ?cent\b|\bpercent\b")
_WINDOW = 4  # words after a number where its noun may be ("16 nouveaux missiles")
# words before a number, in its sentence, where its noun may be when none follows it: "le nombre
# de manifestants s'est élevé à 282 000 environ", "584 stations-service … et 374 en pénurie"
_BEFORE = 12
_JUST_BEFORE = 3  # words before a number with no noun after it, which name what it is
_SYMBOLS = frozenset("%$€£")  # nouns written as symbols, "$" before its number
# before a year: the words after it are no noun it counts ("en 2024 a eu lieu")
_YEAR_AFTER = {"en", "in", "depuis", "since", "de", "of", "annee", "year"}


@dataclass(frozen=True)
class Mention:
    """A number of a text and the content words that follow it (its noun, adjectives)."""

    value: float
    text: str  # as written, folded: "deux cent cinquante"
    nouns: tuple[str, ...]


@functools.cache
def _table() -> dict[str, dict]:
    """Every language's number words merged: words, multipliers, groups, one, and, half, to."""
    merged: dict[str, dict] = {"words": {}, "multipliers": {}, "groups": {}}
    lists: dict[str, set[str]] = {"one": set(), "and": set(), "half": set(), "to": set()}
    for lang in LANGS:
        numbers = lexicon(lang)["numbers"]
        for key in merged:
            merged[key].update(numbers[key])
        for key in lists:
            lists[key].update(numbers[key])
    return {**merged, **{k: dict.fromkeys(v, 1) for k, v in lists.items()}}


@functools.cache
def _kinds() -> dict[str, str]:
    """Folded noun -> what it measures ("heures" -> "hour", "octobre" -> "month10")."""
    kinds = {w: kind for lang in LANGS for kind, ws in lexicon(lang)["kinds"].items() for w in ws}
    return kinds | {m: f"month{n}" for m, n in MONTH_NUMBERS.items()}


@functools.cache
def _stop() -> frozenset[str]:
    return frozenset().union(*(stopwords(lang) for lang in LANGS))


def number_words(*keys: str) -> list[str]:
    """The number words of the table (single words) under `keys` (default: words, multipliers,
    groups), for patterns: number_words("words") -> ["cinq", "deux", ..., "two", ...]."""
    t = _table()
    keys = keys or ("words", "multipliers", "groups")
    return sorted({w for k in keys for w in t[k] if " " not in w})


def _plain(text: str) -> list[str]:
    """Lowercased, accent-free tokens; multi-word number words joined ("quatre vingt")."""
    text = unicodedata.normalize("NFKD", MARKER.sub(" ", text).lower().replace("-", " "))
    text = _PERCENT.sub("%", "".join(c for c in text if not unicodedata.combining(c)))
    found = _TOKEN.findall(text)
    out: list[str] = []
    for t in found:
        if out and f"{out[-1]} {t}" in _table()["words"]:
            out[-1] = f"{out[-1]} {t}"
        else:
            out.append(t)
    return out


def _literal(token: str) -> float | None:
    """ "45 000" -> 45000, "1,5" -> 1.5, "1,500" -> 1500, "2.25" -> 2.25; None: no number."""
    token = re.sub(r"[ \u00a0\u202f]", "", token)
    if not token[:1].isdigit():
        return None
    parts = re.split(r"[.,]", token)
    try:  # a digit float() does not read ("፩", "²") is no number here
        if len(parts) > 1 and all(len(p) == 3 for p in parts[1:]):  # thousands separators
            return float("".join(parts))
        if len(parts) == 2:
            return float(f"{parts[0]}.{parts[1]}")
        return float(parts[0]) if len(parts) == 1 else None
    except ValueError:
        return None


def _read(tokens: list[str], i: int) -> tuple[float, int] | None:
    """The number starting at tokens[i] and the index after it; None when none starts there."""
    t = _table()
    words, mult, groups = t["words"], t["multipliers"], t["groups"]
    total, current, last, j = 0.0, 0.0, None, i
    nxt = tokens[i + 1 : i + 5]
    if tokens[i] in t["one"]:  # an article is 1: "une douzaine", "a hundred", "une heure et demie"
        if nxt[:1] and (nxt[0] in mult or nxt[0] in groups):
            current, j = 1.0, i + 1
        elif nxt[:1] and nxt[0] in t["half"]:  # "une demi heure"
            return 0.5, i + 2
        else:
            return (1.0, i + 1) if _half(nxt[1:]) else None
    elif tokens[i] in t["half"] and tokens[i + 1 : i + 2] and tokens[i + 1] in t["one"]:
        return 0.5, i + 2  # "half an hour"
    elif (literal := _literal(tokens[i])) is not None:
        current, last, j = literal, 0.0, i + 1  # 0: no number word adds to digits
    while j < len(tokens):
        w = tokens[j]
        if (current or total) and _half(tokens[j : j + 3]):  # "deux et demi", "two and a half"
            current, j = current + 0.5, j + (2 if tokens[j + 1] in t["half"] else 3)
            break
        if w in words and last != 0.0 and (last is None or words[w] < last):
            current, last = current + words[w], words[w]
        elif w in t["and"] and tokens[j + 1 : j + 2] and (last or current) and last != 0.0:
            after = tokens[j + 1]  # "vingt et un", "one hundred and five"
            if after in t["one"] and last and last >= 20:
                current, last, j = current + 1, 1, j + 1
            elif not (after in words and (last is None or words[after] < last)):
                break
        elif w in mult:
            if mult[w] == 100:
                current, last = (current or 1) * 100, None
            else:
                total, current, last = total + (current or 1) * mult[w], 0.0, None
        elif w in groups:
            current, j = (current or 1) * groups[w], j + 1
            break
        else:
            break
        j += 1
    return (total + current, j) if j > i else None


def _half(tokens: list[str]) -> bool:
    """Whether `tokens` open with "et demie" or "and a half"."""
    half = _table()["half"]
    return tokens[:1] in (["et"], ["and"]) and any(w in half for w in tokens[1:3])


def mentions(text: str) -> list[Mention]:
    """The numbers of `text` with the content words after them, in order.

    mentions("Il a tiré seize missiles.") -> [Mention(16.0, "seize", ("missiles",))]
    """
    tokens, found, i = _plain(text), [], 0
    while i < len(tokens):
        got = _read(tokens, i)
        if got is None:
            i += 1
            continue
        value, j = got
        before = tokens[i - 1] if i else ""
        nouns: list[str] = [before] if before in _SYMBOLS else []
        end = j
        year = re.fullmatch(r"(?:19|20)\d\d", tokens[i]) and (
            before in MONTH_NUMBERS or before in _YEAR_AFTER
        )
        for w in [] if year else tokens[j : j + _WINDOW]:
            if (
                (not w.isalpha() and w not in _SYMBOLS)
                or _read([w], 0)
                or _half(tokens[end : end + 3])
            ):
                break
            if w not in _stop() or w in _kinds():
                nouns.append(w)
            end += 1
        if nouns and _half(tokens[j + 1 : j + 4]):  # "deux heures et demie": past the half
            value, end = value + 0.5, j + 1 + (2 if tokens[j + 2] in _table()["half"] else 3)
        ranged = j + 1 < len(tokens) and tokens[j] in _table()["to"] and _read(tokens, j + 1)
        if not nouns and not year and ranged:  # "2 à 7 fleurs": 2 counts what 7 counts
            nouns = list(mentions(" ".join(tokens[j + 1 : j + 2 + _WINDOW]))[0].nouns)
        found.append(Mention(value, " ".join(tokens[i:j]), tuple(nouns)))
        i = end if value % 1 == 0.5 and end > j else j
    return found


def number_value(text: str) -> float | None:
    """The value of a number written alone: "seize" -> 16, "1.5 million" -> 1500000."""
    found = mentions(text)
    return found[0].value if found else None


_COUNT = re.compile(r"\b(?:combien|how many|how much|quel nombre|what number)\b(.*)")


def counted(question: str) -> tuple[str, ...]:
    """The noun a count question asks about: "How many people were killed?" -> ("people",);
    "Combien de missiles ?" -> ("missiles",); () for another question."""
    m = _COUNT.search(" ".join(_plain(question)))
    if not m:
        return ()
    return tuple(w for w in m.group(1).split() if w.isalpha() and w not in _stop())[:1]


def _near(ours: tuple[str, ...], theirs: tuple[str, ...], across: bool) -> bool:
    """Whether two numbers count the same thing: a shared noun (same 5-letter stem: "missile" /
    "missiles"), or two nouns of one kind ("heures" / "hours", "novembre" / "November"). Across
    languages, first nouns of no known kind pass: "soldiers" cannot be told from "soldats"."""
    kinds = _kinds()
    for i, a in enumerate(ours):
        for j, b in enumerate(theirs):
            ka, kb = kinds.get(a), kinds.get(b)
            if a == b or (ka and ka == kb):
                return True
            if ka or kb:
                continue
            if (across and i == j == 0) or (a[:5] == b[:5] and min(len(a), len(b)) >= 4):
                return True
    return False


def unsupported_numbers(answer: str, texts: list[str], question: str = "") -> set[str]:
    """The answer's numbers (digits or words) that no passage in `texts` states of the same thing,
    as written with their nouns: {"10 personnes"}. A number is supported by the same value in a
    passage followed within a few words by a near noun (`_near`: its own nouns, or what the
    question counts when the number is the answer to "how many X"); a number with no noun (a
    year, a date's day before its year) by the same value anywhere; and any number the question
    states. "seize missiles" supports "16 missiles"; "depuis 10 ans" does not support "10" as
    the answer to "how many people were killed?".
    """
    from rag.text.language import detect

    lang = detect(f"{question} {answer}")
    across = [detect(t) != lang for t in texts]  # once a passage, not once a number of it
    given = [(m, other) for t, other in zip(texts, across, strict=True) for m in mentions(t)]
    stated = {m.value for m in mentions(question)}
    asked = counted(question)
    missing = set()
    for m in mentions(answer):
        nouns = m.nouns or asked
        same = [(g, across) for g, across in given if g.value == m.value]
        if m.value in stated or (same and not nouns):
            continue
        if any(_near(nouns, g.nouns, across) for g, across in same):
            continue
        if not m.nouns and _same_words_before(m.value, answer, texts, across):
            continue  # "le groupe d'astronautes 3" as the passage says it
        if not any(
            _named_before(m.value, nouns, t, other) for t, other in zip(texts, across, strict=True)
        ):
            missing.add(" ".join([m.text, *m.nouns]))
    return missing


def _befores(value: float, text: str, n: int = _BEFORE) -> Iterator[tuple[str, ...]]:
    """For each time a sentence of `text` states `value`, its content words among the `n` words
    before it, nearest first."""
    from rag.text.sentences import sentences

    for sentence in sentences(text):
        tokens = _plain(sentence)
        i = 0
        while i < len(tokens):
            got = _read(tokens, i)
            if got is None:
                i += 1
                continue
            found, j = got
            if found == value:
                words = tokens[max(0, i - n) : i]
                yield tuple(w for w in words if w.isalpha() and w not in _stop())[::-1]
            i = j


def _named_before(value: float, nouns: tuple[str, ...], text: str, across: bool) -> bool:
    """Whether a sentence of `text` states `value` with a near noun among the words before it
    (`_BEFORE`): "le nombre de manifestants s'est élevé à 282 000" states "282 000
    manifestants"."""
    return any(_near(nouns, before, across) for before in _befores(value, text))


def _same_words_before(value: float, answer: str, texts: list[str], across: list[bool]) -> bool:
    """Whether a passage states `value` after a content word that also comes just before it in
    the answer (`_JUST_BEFORE` words each side): "le groupe d'astronautes 3" in both."""
    ours = next(_befores(value, answer, _JUST_BEFORE), ())
    return bool(ours) and any(
        _near(ours, theirs, other)
        for t, other in zip(texts, across, strict=True)
        for theirs in _befores(value, t, _JUST_BEFORE)
    )
