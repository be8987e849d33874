"""Conflicts said out loud: when the retrieved passages hold a report of a claim and a denial
or a non-confirmation of it, a yes/no question about that claim ("L'entourage de Macron a-t-il
confirmé sa candidature annoncée à l'AFP ?", "Did Acme agree to a merger, as Bloomberg
reported?") is answered with every account, each one the passage's own sentence, verbatim, and
cited, instead of the model's one-sided "Oui".

    found, passages = find(question, passages)   # [Account(report …), Account(denial …), …] or []
    text, citations = say(found, "fr")  # "Les articles divergent : « … » [2] ; « … » [3]."

Written by hand: no library offline tells a report from its denial (no NLI model ships inside a
PyPI package), and the bundled model, asked to, answered "Oui" or "Yes" to every conflict case
(docs/results/2026-12-03-short-answers.md). The vocabulary (outlets, words that report, deny,
confirm or negate, names' forms in other languages) is data in words.json, over folded text.

The claim is the question's content words (`claim`): a report holds one of them, and with its
denial two, unless it is by the outlet the question names. Which denial answers which report is
decided by place in the report's article, read whole: a denial at most ANSWERS_WITHIN sentences
after a report, with no title or confirmation between, answers it ("… annonçait à l'Agence
France-Presse que … Néanmoins, l'entourage a démenti cette information"); a denial that holds two
of the claim's words itself answers the reports of its article's own story (not one it recalls in
the pluperfect) whose resolved month agrees (rag.text.timeline). A question naming an outlet or a
month keeps only the reports of that outlet and month; its names must be in the accounts.
Measured: docs/results/2026-12-07-conflicts-general.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.answer import word_list
from rag.answer.citations import quote_in_source
from rag.core.types import Citation, Passage
from rag.text import dated, timeline
from rag.text.normalize import fold
from rag.text.sentences import sentences
from rag.text.timeline import DAY_NAMES_EN, DAY_NAMES_FR, MONTH_EN, MONTH_FR
from rag.text.words import content_words, matches

REPORT, DENIAL, CONFIRMATION = "report", "denial", "confirmation"


def _vocabulary(name: str) -> re.Pattern[str]:
    """A words.json list as one pattern over folded text: with "revel*", it finds "revele"."""
    entries = sorted(word_list(name), key=len, reverse=True)
    alternatives = (re.escape(e.rstrip("*")) + (r"\w*" if e.endswith("*") else "") for e in entries)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


OUTLETS = _vocabulary("outlets")  # the press a report is attributed to
_REPORTS, _ASKS = _vocabulary("report_words"), _vocabulary("asks_truth")
_DENIES, _CONFIRMS = _vocabulary("denial_words"), _vocabulary("confirm_words")
_NEGATIONS = word_list("negations")
_FORMS = {f: e.split()[0] for e in word_list("name_forms") for f in e.split()}  # -> the first

_WH_FR = re.compile(
    r"\b(qui|quel|quelle|quels|quelles|quoi|quand|comment|combien|pourquoi|lequel|laquelle"
    r"|lesquels|lesquelles|ou)\b"
)
_WH_EN = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b")
_AUX_EN = re.compile(r"^(did|does|do|is|was|are|were|has|have|had|can|could|will|would)\b")
_INVERTED = re.compile(r"-(?:t-)?(?:il|elle|ils|elles|on)\b|\best-ce qu|\bt (?:il|elle)\b")
_LEAD = re.compile(r"^\s*(?:selon|d['’]après|according to)\b[^,?]*,\s*", re.IGNORECASE)
_RECALLED = re.compile(r"\b(avait|avaient|had)\b")  # the pluperfect: a report of before the story
_NOT_NAMES = {  # capitalised words that are no names: a question's first word, months and days
    *word_list("not_names"),
    *(fold(m) for m in MONTH_FR + MONTH_EN),
    *(fold(d) for d in DAY_NAMES_FR + DAY_NAMES_EN),
}
MAX_REPORTS, MAX_DENIALS = 2, 3
ANSWERS_WITHIN = 4  # sentences: a denial that does not name the claim answers a report this close
_HEADLINE_END = re.compile(r"[.!?…»\"”)]\s*$")  # a sentence that does not end so is a title
LEADS = {"fr": "Les articles divergent : ", "en": "The articles give conflicting accounts: "}
QUOTES = {"fr": ("« ", " »"), "en": ("“", "”")}


@dataclass(frozen=True)
class Account:
    """One side: a sentence of a passage, verbatim, and the passage's number in the prompt."""

    kind: str  # REPORT or DENIAL
    number: int  # 1-based, as the prompt numbers the passages
    passage: Passage
    sentence: str
    keys: frozenset[str]  # the months and years it speaks of (rag.text.dated.keys)


def is_polar(question: str) -> bool:
    """A yes/no question: it asks ("?", an inverted verb or "est-ce que", an English auxiliary
    first) and has no question word (after a leading "Selon X," / "According to X,").

    "EDF a-t-il confirmé l'explosion ?" -> True; "Quel journal a révélé l'explosion ?" -> False;
    "confirmé ?" -> False (no question: nothing is asked of anyone)
    """
    rest = _LEAD.sub("", question).strip()
    folded = fold(rest)
    words = folded.split()
    if not rest.endswith("?") or "où" in rest.lower() or not words:
        return False
    if words[0] in ("que", "qu") or " qu est ce " in f" {folded} " or " d ou " in f" {folded} ":
        return False
    if _WH_FR.search(folded.replace(" ou ", " ")) or _WH_EN.search(folded):
        return False
    return bool(_AUX_EN.match(folded) or _INVERTED.search(rest.lower()) or len(words) >= 5)


def asks_about_claim(question: str, wanted: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether the question asks if a claim is true, took place or was confirmed ("a-t-il
    confirmé", "really"), if an outlet reported it ("as Bloomberg reported"), or about a claim at
    a time it names (`wanted`: its date keys). "Macron est-il candidat ?" is not."""
    folded = fold(question)
    return bool(
        _ASKS.search(folded) or (OUTLETS.search(folded) and _REPORTS.search(folded)) or wanted
    )


def claim(question: str) -> set[str]:
    """What the question asks about: its content words, names in the articles' form, without the
    words that ask, report, deny or confirm, its outlets, months and years.
    "Did Acme really agree to a merger, as Bloomberg reported?" -> {"acme", "agree", "merger"}"""
    folded = fold(_LEAD.sub("", question))
    for vocabulary in (OUTLETS, _REPORTS, _ASKS, _DENIES, _CONFIRMS):
        folded = vocabulary.sub(" ", folded)
    return {
        _FORMS.get(w, w)
        for w in content_words(folded)
        if w not in _NOT_NAMES and not (w.isdigit() and len(w) == 4)
    }


def _about(text: str, asked: set[str], least: int = 2) -> bool:
    """The text holds `least` of the claim's words (all, when it has fewer), by a shared
    5-letter stem (rag.text.words.matches): one for a report, two for a report with its
    denial or for a denial on its own."""
    said = {_FORMS.get(w, w) for w in content_words(text)}
    return bool(asked) and sum(matches(w, said) for w in asked) >= min(least, len(asked))


def find(
    question: str,
    passages: list[Passage],
    known: set[str] | frozenset[str] = frozenset(),
    article: Callable[[str], list[Passage]] | None = None,
) -> tuple[list[Account], list[Passage]]:
    """The accounts to say for a yes/no question about a reported claim, reports first, and the
    passages they are numbered in; ([], passages) when the question is no such question or the
    passages hold no report of its claim with a denial.

    `passages` in the order the prompt numbers them. An article with a report of the claim, the
    outlet and the time the question names among them is read whole, through `article(doc_id)`
    (its chunks in order; default: its retrieved passages), for that report's denials; a denial
    from a chunk that was not retrieved is cited in it, appended to the passages. `known`: the
    index's date keys, for a month the question names without a year (dated.asked_keys)."""
    if not is_polar(question):
        return [], passages
    outlets = set(OUTLETS.findall(fold(question)))
    wanted = dated.asked_keys(question, known)
    asked = claim(question)
    if not asks_about_claim(question, wanted) or not asked:
        return [], passages
    sources = []
    for p in passages:
        for s in sentences(p.text):
            if (
                _kind(s) == REPORT
                and _asked(_account(REPORT, p, s), outlets, wanted, asked)
                and p.source not in sources
            ):
                sources.append(p.source)
    pairs = []
    for source in sources:
        chunks = (
            article(source)
            if article
            else sorted((p for p in passages if p.source == source), key=lambda p: p.place)
        )
        pairs += _pairs(chunks, outlets, wanted, asked)
    pairs = [
        (r, d)
        for r, d in pairs
        if (not wanted or d.keys & wanted)
        and (outlets or _about(f"{r.sentence} {d.sentence}", asked))
    ]
    if not pairs:
        return [], passages
    chosen = _chosen(pairs, passages)
    # the question's names are in the accounts, but those half the passages hold (the corpus's
    # topic): "X a-t-il démenti en novembre ?" is not about a report that does not name X
    said = set(fold(" ".join(a.sentence for a in chosen)).split())
    held = [set(fold(p.text).split()) for p in passages]
    if any(
        not _spoken_of(n, said) and 2 * sum(_spoken_of(n, h) for h in held) < len(held)
        for n in names(question)
    ):
        return [], passages
    return _numbered(chosen, passages)


def names(question: str) -> set[str]:
    """The question's names, folded, in the articles' form (words.json `name_forms`): what the
    accounts must speak of. "Did Acme buy a plant in Beijing?" -> {"acme", "pekin"}"""
    found = set()
    for word in re.findall(r"\b[A-ZÀ-Ý][\w-]*", question):
        for w in fold(word).split():
            if len(w) > 1 and w not in _NOT_NAMES:
                found.add(_FORMS.get(w, w))
    return found


def _spoken_of(name: str, words: set[str]) -> bool:
    """The name, in its French or English form, is among the words."""
    return name in words or any(f in words for f, first in _FORMS.items() if first == name)


def _pairs(
    chunks: list[Passage], outlets: set[str], wanted: set[str], asked: set[str]
) -> list[tuple[Account, Account]]:
    """(report, denial) in one article read in order: a denial answers the report at most
    ANSWERS_WITHIN sentences before it, with no title between, or, when it holds the claim's
    words, every report of the article's story (not one it recalls) whose month agrees. Titles
    are no account."""
    said: list[tuple[Passage, str]] = []
    for p in chunks:  # chunks may overlap: each sentence once
        for s in sentences(p.text):
            if all(s != t for _, t in said):
                said.append((p, s))
    reports, pairs, named = [], [], []
    last, since = None, 0  # the last report, and how many sentences ago
    for p, s in said:
        kind, since = _kind(s), since + 1
        if not _HEADLINE_END.search(s):  # a title or subtitle: a new story may start
            last = None
        elif kind == REPORT:
            last, since = _account(REPORT, p, s), 0
            reports.append(last)
        elif kind == DENIAL:  # it answers the report just before it, and where it names it
            if last is not None and since <= ANSWERS_WITHIN:
                pairs.append((last, _account(DENIAL, p, s, last.keys)))
            if _about(s, asked):
                named.append(_account(DENIAL, p, s))
        elif kind == CONFIRMATION:  # "EDF a confirmé l'incident": a later denial is of another
            last = None
    # a denial that says what it denies answers the article's story, not a report it recalls in
    # the pluperfect ("le journal avait déjà fait état …"), where it has a story of its own
    story = [r for r in reports if not _RECALLED.search(fold(r.sentence))] or reports
    pairs += [(r, d) for d in named for r in story if _agree(r.keys, d.keys)]
    return [(r, d) for r, d in pairs if _asked(r, outlets, wanted, asked)]


def _account(
    kind: str, p: Passage, sentence: str, otherwise: frozenset[str] | None = None
) -> Account:
    """The sentence dated by its own time expressions, else by `otherwise` (the report a denial
    answers), else by its article's date."""
    own = _own_keys(sentence, p.date)
    keys = own or (otherwise if otherwise is not None else dated.keys([], p.date))
    return Account(kind, 0, p, sentence, frozenset(keys))


def _numbered(
    accounts: list[Account], passages: list[Passage]
) -> tuple[list[Account], list[Passage]]:
    """Each account numbered by the retrieved passage that holds its sentence, else by its own
    chunk: the retrieved window of that chunk widened to it, or the chunk appended to the
    passages, ranked after them."""
    shown = list(passages)
    out = []
    for a in accounts:
        n = next(
            (
                i
                for i, p in enumerate(shown, 1)
                if p.source == a.passage.source and quote_in_source(a.sentence, p.text)
            ),
            0,
        )
        if not n:
            n = next((i for i, p in enumerate(shown, 1) if p.chunk_id == a.passage.chunk_id), 0)
            whole = replace(a.passage, rank=shown[n - 1].rank if n else len(shown) + 1)
            if n:  # a window of the chunk was retrieved: show the whole chunk
                shown[n - 1] = replace(shown[n - 1], text=whole.text, shown="")
            else:
                shown.append(whole)
                n = len(shown)
        out.append(replace(a, number=n, passage=shown[n - 1]))
    return out, shown


def _asked(report: Account, outlets: set[str], wanted: set[str], asked: set[str]) -> bool:
    """The report is of the time the question names, where it names one, and of the outlet it
    names ("l'accord révélé par Reuters": that outlet's report is the one asked about), else of
    the claim."""
    said = set(OUTLETS.findall(fold(report.sentence)))
    return (not wanted or bool(report.keys & wanted)) and (
        bool(said & outlets) if outlets else _about(report.sentence, asked, 1)
    )


def say(accounts: list[Account], lang: str) -> tuple[str, list[Citation]]:
    """The answer that gives every account, each sentence quoted and cited, and its citations
    (each quote is the account's sentence: verbatim by construction)."""
    left, right = QUOTES.get(lang, QUOTES["en"])
    parts = [f"{left}{a.sentence.rstrip()}{right} [{a.number}]" for a in accounts]
    text = LEADS.get(lang, LEADS["en"]) + " ; ".join(parts) + "."
    citations = [Citation.of(a.passage, a.sentence, a.number) for a in accounts]
    return text, citations


def _kind(sentence: str) -> str:
    """REPORT (an outlet and a word that reports), DENIAL (a denial word, or a confirmation word
    negated: "n'a pas confirmé"), CONFIRMATION or "". A denial word negated ("n'a pas démenti")
    is none; a report of a confirmation ("confirmerait, selon l'AFP") is a report."""
    folded = fold(sentence)

    def negated(m: re.Match[str], within: int) -> bool:
        return bool(_NEGATIONS & set(folded[: m.start()].split()[-within:]))

    if any(not negated(m, 3) for m in _DENIES.finditer(folded)):
        return DENIAL
    confirms = list(_CONFIRMS.finditer(folded))
    if any(negated(m, 4) for m in confirms):
        return DENIAL
    if OUTLETS.search(folded) and _REPORTS.search(folded):
        return REPORT
    return CONFIRMATION if confirms else ""


def _own_keys(sentence: str, date: str | None) -> list[str]:
    """The months and years the sentence's own time expressions resolve to (none: [])."""
    return (
        dated.keys(timeline.resolve(sentence, date))
        if date
        else dated.keys(timeline.resolve(sentence))
    )


def _months(keys: frozenset[str]) -> set[str]:
    return {k for k in keys if len(k) == 7 and k[4] == "-"}


def _agree(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two accounts speak of the same time: their known months meet, or one knows none."""
    ma, mb = _months(a), _months(b)
    return not ma or not mb or bool(ma & mb)


def _chosen(pairs: list[tuple[Account, Account]], passages: list[Passage]) -> list[Account]:
    """One report per outlet (the best-ranked retrieved one, with its denial in its own
    article first), then the denials, near-repeats left out (one denial told by two articles)."""

    def place(a: Account) -> int:  # the first retrieved passage that holds the sentence
        return next(
            (i for i, p in enumerate(passages) if quote_in_source(a.sentence, p.text)),
            len(passages),
        )

    pairs = sorted(
        pairs,
        key=lambda rd: (place(rd[0]), rd[0].passage.source != rd[1].passage.source, place(rd[1])),
    )
    reports: dict[frozenset[str], Account] = {}
    denials: list[Account] = []
    for r, d in pairs:
        outlet = frozenset(OUTLETS.findall(fold(r.sentence)))
        if outlet not in reports and len(reports) < MAX_REPORTS:
            reports[outlet] = r
        if outlet not in reports:  # its report is not said: nor is its denial
            continue
        if len(denials) < MAX_DENIALS and not any(
            _repeats(d.sentence, e.sentence) for e in denials
        ):
            denials.append(d)
    return [*reports.values(), *denials]


def _repeats(a: str, b: str) -> bool:
    wa, wb = content_words(a), content_words(b)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.6
