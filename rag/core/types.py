"""Plain data that crosses modules: documents, chunks, passages, citations, answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class Document:
    """A source file or corpus record. `id` is what users see in citations.

    `published` is the publication date, "2024-11-10" (or "2024-11" where only the month is
    known), from the file's metadata first (rag.index.readers.published); None when unknown, and
    then the text's relative dates ("mardi", "la veille") cannot be resolved. `outlet` (the site
    or paper), `url` and `author` come from the metadata too; `format` says which reader read it.
    """

    id: str
    title: str
    text: str
    published: str | None = None
    outlet: str | None = None
    url: str | None = None
    author: str | None = None
    format: str = "text"
    path: str | None = None


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A stored piece of a document; `id` is "{doc_id}:{index}", `hash` the sha256 of its text."""

    id: str
    doc_id: str
    index: int
    text: str
    hash: str
    title: str = ""
    published: str | None = None  # its document's (Document.published)
    outlet: str | None = None
    url: str | None = None
    author: str | None = None
    # Time expressions resolved against the article's date (rag.text.timeline, rag.text.dated):
    # the marks (start, end, expression, date as shown) and the keys it is dated by ("2024-11").
    times: tuple[tuple[int, int, str, str], ...] = ()
    dated: tuple[str, ...] = ()
    lang: str = ""  # its document's language (rag.text.language.detect): how BM25 analyses it


@dataclass(frozen=True, kw_only=True)
class Passage:
    """A retrieved chunk with its fused score and 1-based rank."""

    source: str
    chunk_id: str
    score: float
    text: str
    rank: int
    date: str | None = None
    title: str = ""
    dense_score: float | None = None
    bm25_score: float | None = None
    shown: str = ""  # the text as the model sees it, dates resolved inline ("" when none)
    dated: tuple[str, ...] = ()  # what the passage is dated by (Chunk.dated)
    # Who published it and when (the chunk's metadata; None: unknown). `published` is an ISO date
    # ("2017-01-31"), or the date found in the text ("2024-11") where ingest stored no other.
    published: str | None = None
    outlet: str | None = None
    url: str | None = None
    author: str | None = None

    @property
    def place(self) -> tuple[str, int, str]:
        """Where the passage lies: its source and chunk number ("a.txt:3" -> ("a.txt", 3, "")),
        or -1 and the whole id when the id has no number."""
        _, _, index = self.chunk_id.rpartition(":")
        return (
            (self.source, int(index), "") if index.isdigit() else (self.source, -1, self.chunk_id)
        )

    @property
    def prompt_text(self) -> str:
        return self.shown or self.text


@dataclass(frozen=True, kw_only=True)
class Citation:
    """What the user sees: the source file, the chunk, and a short quote that occurs in it."""

    source: str
    chunk_id: str
    quote: str
    number: int = 0  # the [n] marker used in the answer text
    # Who wrote it and when, from the cited chunk's metadata (None: unknown; Passage's fields)
    outlet: str | None = None
    published: str | None = None
    title: str | None = None
    url: str | None = None
    author: str | None = None

    @classmethod
    def of(cls, passage: Passage, quote: str, number: int) -> Citation:
        """A citation of `passage`, carrying its outlet, date, title, link and author."""
        return cls(
            source=passage.source,
            chunk_id=passage.chunk_id,
            quote=quote,
            number=number,
            outlet=passage.outlet,
            published=passage.published,
            title=passage.title or None,
            url=passage.url,
            author=passage.author,
        )


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What a question may be answered from: articles published between `since` and `until`
    (inclusive; either open) by one of `outlets` (any when empty). A chunk without a publication
    day is outside any date range: its date is unknown."""

    since: dt.date | None = None
    until: dt.date | None = None
    outlets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "outlets", tuple(dict.fromkeys(self.outlets)))
        if self.since and self.until and self.since > self.until:
            from rag.core.errors import InputError

            raise InputError(
                f"the date range is empty: {self.since} comes after {self.until} — swap them"
            )

    @property
    def empty(self) -> bool:
        """True when it restricts nothing."""
        return not (self.since or self.until or self.outlets)


@dataclass(frozen=True, kw_only=True)
class Timings:
    retrieval_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0  # the answer, checked (the short answer's own time is short_s)
    short_s: float | None = None
    confidence_s: float | None = None  # its confidence, after the short answer (a second draft)


@dataclass(frozen=True, kw_only=True)
class Signals:
    """What an answer's confidence is built from (rag.answer.confidence), each in [0, 1]; None
    where it was not measured. `missing`: the question's names and numbers that no passage
    shown to the model holds (empty: the premise holds)."""

    premise: float = 1.0  # share of the question's names and numbers found in the cited passages
    missing: tuple[str, ...] = ()
    support: float = 0.0  # share of the answer's content words in its cited passages
    key_support: float | None = None  # share of its new words there (None: it has none)
    chosen: float | None = None  # the model's probability of its short answer (LLM.choose)
    no_answer: float | None = None  # the model's probability of NO_ANSWER there
    agreement: float | None = None  # 1: the draft from the passages reversed agrees; 0: not
    focus: float | None = None  # share of the question's words around the answer in its passage


@dataclass(frozen=True, kw_only=True)
class Answer:
    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    timings: Timings = field(default_factory=Timings)
    standalone_question: str | None = None  # the rewritten question when history was used
    language: str = "fr"
    draft: str = ""  # the model's raw reply before citation and support checks (for diagnosis)
    withheld: str = (
        ""  # when abstained: the reason code of the check that withheld it (rag.answer.checks)
    )
    # the exact answer, words of a cited quote ("Canard enchaîné"); "" when none was found, None
    # when none was sought (withheld, a conflict's accounts, or short answers off: RAG_SHORT_ANSWER)
    short: str | None = None
    # the answer gives the accounts of a report and of its denial, quoted (rag.answer.conflicts)
    conflict: bool = False
    # the draft shown is the second look's (RAG_RETRY_WITHHELD): the checks withheld the first
    second_look: bool = False
    # how likely the answer is right, in [0, 1] (rag.answer.confidence); None when none was
    # measured (an abstention, a conflict's accounts)
    confidence: float | None = None
    signals: Signals | None = None

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class IngestReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # "name: reason" for files that could not be read
    chunks_embedded: int = 0
    seconds: float = 0.0
    texts: dict[str, str] = field(
        default_factory=dict
    )  # doc id -> sha256 of its text, added/updated ones
    formats: dict[str, int] = field(default_factory=dict)  # reader -> documents read ("html": 3)
    undated: tuple[str, ...] = ()  # ids of the documents read without a publication date

    def summary(self) -> str:
        s = (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed"
            f" ({self.chunks_embedded} chunks embedded in {self.seconds:.1f}s)"
        )
        if self.skipped:
            s += f"; {len(self.skipped)} skipped: " + "; ".join(self.skipped)
        return s

    def details(self, named: int = 3) -> list[str]:
        """What was read, per format, and the documents without a publication date (a few
        named): the lines `rag ingest` ends with."""
        if not self.formats:
            return []
        total = sum(self.formats.values())
        per = ", ".join(f"{n} {name}" for name, n in sorted(self.formats.items()))
        lines = [f"{total} documents read: {per}"]
        if self.undated:
            names = ", ".join(self.undated[:named]) + ("…" if len(self.undated) > named else "")
            lines.append(
                f"{len(self.undated)} without a publication date: their relative dates "
                f"('mardi', 'la veille') cannot be resolved ({names}) — give them a date in "
                "their metadata, front matter or record"
            )
        else:
            lines.append("every document has a publication date")
        return lines
