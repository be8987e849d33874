"""Conflicts said out loud: when the retrieved passages hold a press report of an event and a
denial or a non-confirmation of it, a yes/no question about that event ("Le Kremlin a-t-il
confirmé l'appel révélé par le Washington Post ?") is answered with every account, each one the
passage's own sentence, verbatim, and cited, instead of the model's one-sided "Oui".

    found, passages = find(question, passages)   # [Account(report …), Account(denial …), …] or []
    text, citations = say(found, "fr")  # "Les articles divergent : « … » [2] ; « … » [2]."

Written by hand: no library offline tells a report from its denial (no NLI model ships inside a
PyPI package), and the bundled model, asked to, answered "Oui" or "Yes" to every conflict case
(docs/results/2026-12-03-short-answers.md). The cues are French and English word lists over
folded text. Which denial answers which report is decided by place in the report's article, read
whole: a denial at most ANSWERS_WITHIN sentences after a report, with no title or confirmation
between, answers it ("… le Washington Post avait déjà fait état d'une conversation. Le Kremlin
avait alors démenti l'information."); a denial that says what it denies ("ne pouvoir confirmer ou
infirmer une information de la presse américaine") answers the reports of its article's own
story (not one it recalls in the pluperfect, "avait déjà fait état") whose resolved month agrees
(rag.text.timeline). A question naming an outlet or a month keeps only the reports of that
outlet and month; its names must be in the accounts. Measured:
docs/results/2026-12-04-conflicts.md.
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
from rag.text.words import content_words

REPORT, DENIAL, CONFIRMATION = "report", "denial", "confirmation"

OUTLETS = re.compile(  # folded; the press a report is attributed to
    r"\b(washington post|new york post|new york times|wall street journal|financial times|afp"
    r"|reuters|associated press|bloomberg|axios|politico|cnn|nbc|cbs|abc news|fox news|bbc|tass"
    r"|ria novosti|interfax|journal le monde|le figaro|the guardian|presse americaine"
    r"|medias americains|us media|american press)\b"
)
_REPORTS = re.compile(
    r"\b(revel\w*|fait etat|rapport(?:e|ee|es|ent|ait|aient|er)?|selon|d apres|ecrit|affirm\w*"
    r"|indiqu\w*|annonc\w*|reported|reports|reporting|reveal\w*|said|says|according|citant)\b"
)
_EVENT = re.compile(
    r"\b(appels?|conversations?|entretiens?|entretenus?|telephon\w*|parl(?:e|es|er|ent|ait|aient)"
    r"|calls?|called|spoke|speak|talk\w*|conversed)\b"
)
_DENIAL_WORD = re.compile(
    r"\b(dement(?:i|ie|is|ies|ir|ait|aient|ent|e)?|infirm(?:er|e|ent|ait|aient)?|nie|nient|niait|nier"
    r"|deny|denies|denied|denying|denial)\b"
)
_NEGATION = {"ne", "n", "pas", "sans", "not", "never", "jamais", "without", "didn", "doesn", "don"}
_NOT_CONFIRMED = re.compile(
    r"\bn (?:a|ont|avait|avaient) (?:toujours |encore )?(?:pas|jamais)"
    r" (?:encore |officiellement |ete )*confirm"
    r"|\bne l (?:a|ont|avait|avaient) (?:toujours |encore )?pas (?:encore |officiellement )*confirm"
    r"|\bconfirme aucune?\b|\baucune confirmation\b"
    r"|\bne (?:pouvoir|peut|pouvait|peux|pourra) (?:ni )?confirmer"
    r"|\b(?:not|never|cannot|could not|unable to|declined to|refused to)"
    r" (?:officially )?confirm\w*|\bno confirmation\b"
)
_CONFIRMS = re.compile(r"\b(confirm\w*)\b")  # a confirmation that is no denial: the report stands
# a denial that says what it denies, not "l'information" of the sentence before
_RECALLED = re.compile(r"\b(avait|avaient|had)\b")  # the pluperfect: a report of before the story
_NAMES_WHAT = re.compile(
    r"\b(presse|medias|media|faisant etat|press|reports? (?:that|of)|claims? (?:that|of))\b"
)

_WH_FR = re.compile(
    r"\b(qui|quel|quelle|quels|quelles|quoi|quand|comment|combien|pourquoi|lequel|laquelle"
    r"|lesquels|lesquelles|ou)\b"
)
_WH_EN = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b")
_AUX_EN = re.compile(r"^(did|does|do|is|was|are|were|has|have|had|can|could|will|would)\b")
_INVERTED = re.compile(r"-(?:t-)?(?:il|elle|ils|elles|on)\b|\best-ce qu|\bt (?:il|elle)\b")
# a question on whether an event happened, or was confirmed or denied
_ASKS = re.compile(
    r"\b(confirm\w*|dement\w*|infirm(?:e|er|ee)\b|deni\w*|deny|vrai|vraiment|reellement|effectivement|really"
    r"|actually|true|eu lieu|take place|took place|happen\w*)"
)
_REPORTED = re.compile(
    r"\b(?<!par )(rapport(?:e|ee|es)|revel\w*|reported|reveal\w*)\b"
)  # with an outlet named
_LEAD = re.compile(r"^\s*(?:selon|d['’]après|according to)\b[^,?]*,\s*", re.IGNORECASE)

_EXONYMS = {
    "putin": "poutine",
    "moscow": "moscou",
    "russia": "russie",
    "zelenskyy": "zelensky",
    "kyiv": "kiev",
}
_NOT_NAMES = {  # capitalised words that are no names: a question's first word, months and days
    *word_list("not_names"),
    *(fold(m) for m in MONTH_FR + MONTH_EN),
    *(fold(d) for d in DAY_NAMES_FR + DAY_NAMES_EN),
}
MAX_REPORTS, MAX_DENIALS = 2, 3
ANSWERS_WITHIN = (
    4  # sentences: a denial that does not say what it denies answers a report this close before it
)
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

    "Le Kremlin a-t-il confirmé l'appel ?" -> True; "Quel journal a révélé l'appel ?" -> False;
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


def asks_about_event(question: str, wanted: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether the question asks if an event happened or was confirmed ("a-t-il confirmé",
    "really take place"), if an outlet reported it ("as the New York Post reported"), or about
    an event at a time it names ("se sont-ils parlé … en novembre 2024", `wanted`: its date
    keys). "Trump a-t-il parlé avec Poutine ?" is not: the articles tell of several calls."""
    folded = fold(question)
    return bool(
        _ASKS.search(folded)
        or (OUTLETS.search(folded) and _REPORTED.search(folded))
        or (wanted and _EVENT.search(folded))
    )


def find(
    question: str,
    passages: list[Passage],
    known: set[str] | frozenset[str] = frozenset(),
    article: Callable[[str], list[Passage]] | None = None,
) -> tuple[list[Account], list[Passage]]:
    """The accounts to say for a yes/no question about a reported event, reports first, and the
    passages they are numbered in; ([], passages) when the question is no such question or the
    passages hold no report with its denial.

    `passages` in the order the prompt numbers them. An article with a report of the outlet and
    time the question names among them is read whole, through `article(doc_id)` (its chunks in
    order; default: its retrieved passages), for that report's denials; a denial from a chunk
    that was not retrieved is cited in it, appended to the passages. `known`: the index's date
    keys, for a month the question names without a year (rag.text.dated.asked_keys)."""
    if not is_polar(question):
        return [], passages
    outlets = set(OUTLETS.findall(fold(question)))
    wanted = dated.asked_keys(question, known)
    if not asks_about_event(question, wanted):
        return [], passages
    sources = []
    for p in passages:
        for s in sentences(p.text):
            if (
                _kind(s) == REPORT
                and _asked(_account(REPORT, p, s), outlets, wanted)
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
        pairs += _pairs(chunks, outlets, wanted)
    pairs = [(r, d) for r, d in pairs if not wanted or d.keys & wanted]
    if not pairs:
        return [], passages
    chosen = _chosen(pairs, passages)
    # the question's names are in the accounts, but those half the passages hold (the corpus's
    # topic: "Trump"): "Zelensky a-t-il parlé à Trump en novembre ?" is not about that report
    said = set(fold(" ".join(a.sentence for a in chosen)).split())
    held = [set(fold(p.text).split()) for p in passages]
    if any(
        not _spoken_of(n, said) and 2 * sum(_spoken_of(n, h) for h in held) < len(held)
        for n in names(question)
    ):
        return [], passages
    return _numbered(chosen, passages)


def names(question: str) -> set[str]:
    """The question's names, folded, English exonyms in their French form: what the accounts
    must speak of. "Did Trump call Putin in November?" -> {"trump", "poutine"}"""
    found = set()
    for word in re.findall(r"\b[A-ZÀ-Ý][\w-]*", question):
        for w in fold(word).split():
            if len(w) > 1 and w not in _NOT_NAMES:
                found.add(_EXONYMS.get(w, w))
    return found


def _spoken_of(name: str, words: set[str]) -> bool:
    """The name, in its French or English form, is among the words."""
    return name in words or any(en in words for en, fr in _EXONYMS.items() if fr == name)


def _pairs(
    chunks: list[Passage], outlets: set[str], wanted: set[str]
) -> list[tuple[Account, Account]]:
    """(report, denial) in one article read in order: a denial answers the report at most
    ANSWERS_WITHIN sentences before it, with no title between, or, when it says what it denies,
    every report of the article's story (not one it recalls) whose month agrees. Titles are no
    account."""
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
        elif kind == DENIAL and _NAMES_WHAT.search(fold(s)):
            named.append(_account(DENIAL, p, s))
        elif kind == DENIAL and last is not None and since <= ANSWERS_WITHIN:
            pairs.append((last, _account(DENIAL, p, s, last.keys)))
        elif (
            kind == CONFIRMATION
        ):  # "Le Kremlin a confirmé l'appel": a denial after it is of something else
            last = None
    # a denial that says what it denies answers the article's story, not a report it recalls in
    # the pluperfect ("le Washington Post avait déjà fait état …"), where it has a story of its own
    story = [r for r in reports if not _RECALLED.search(fold(r.sentence))] or reports
    pairs += [(r, d) for d in named for r in story if _agree(r.keys, d.keys)]
    return [(r, d) for r, d in pairs if _asked(r, outlets, wanted)]


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


def _asked(report: Account, outlets: set[str], wanted: set[str]) -> bool:
    """The report is of the outlet and the time the question names, where it names them."""
    said = set(OUTLETS.findall(fold(report.sentence)))
    return (not outlets or bool(said & outlets)) and (not wanted or bool(report.keys & wanted))


def say(accounts: list[Account], lang: str) -> tuple[str, list[Citation]]:
    """The answer that gives every account, each sentence quoted and cited, and its citations
    (each quote is the account's sentence: verbatim by construction)."""
    left, right = QUOTES.get(lang, QUOTES["en"])
    parts = [f"{left}{a.sentence.rstrip()}{right} [{a.number}]" for a in accounts]
    text = LEADS.get(lang, LEADS["en"]) + " ; ".join(parts) + "."
    citations = [Citation.of(a.passage, a.sentence, a.number) for a in accounts]
    return text, citations


def _kind(sentence: str) -> str:
    """REPORT, DENIAL, CONFIRMATION or "" (a denial word negated, "n'a pas démenti", is none)."""
    folded = fold(sentence)
    words = folded.split()
    for m in _DENIAL_WORD.finditer(folded):
        before = folded[: m.start()].split()[-3:]
        if not _NEGATION & set(before):
            return DENIAL
    if _NOT_CONFIRMED.search(folded):
        return DENIAL
    if _CONFIRMS.search(folded) and not _NEGATION & set(words):
        return CONFIRMATION
    if OUTLETS.search(folded) and _REPORTS.search(folded) and _EVENT.search(folded):
        return REPORT
    return ""


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
    article first), then the denials, near-repeats left out ("l'entourage de Trump n'a pas
    confirmé …" in two articles)."""

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
