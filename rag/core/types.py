"""Plain data that crosses modules: documents, chunks, passages, citations, answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """A source file or corpus record. `id` is what users see in citations."""

    id: str
    title: str
    text: str
    date: str | None = None  # "2024-11" or "2024-11-10" where the text gives one
    path: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A stored piece of a document; `id` is "{doc_id}:{index}", `hash` the sha256 of its text."""

    id: str
    doc_id: str
    index: int
    text: str
    hash: str
    title: str = ""
    date: str | None = None
    # Time expressions resolved against the article's date (rag.text.timeline, rag.text.dated):
    # the marks (start, end, expression, date as shown) and the keys it is dated by ("2024-11").
    times: tuple[tuple[int, int, str, str], ...] = ()
    dated: tuple[str, ...] = ()


@dataclass(frozen=True)
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

    @property
    def prompt_text(self) -> str:
        return self.shown or self.text


@dataclass(frozen=True)
class Citation:
    """What the user sees: the source file, the chunk, and a short quote that occurs in it."""

    source: str
    chunk_id: str
    quote: str
    number: int = 0  # the [n] marker used in the answer text


@dataclass(frozen=True)
class Timings:
    retrieval_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0  # the answer, checked (the short answer's own time is short_s)
    short_s: float | None = None


@dataclass(frozen=True)
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
    # the exact answer, words of a cited quote ("Washington Post"); "" when none was found, None
    # when none was sought (withheld, a conflict's accounts, or short answers off: RAG_SHORT_ANSWER)
    short: str | None = None
    # the answer gives the accounts of a report and of its denial, quoted (rag.answer.conflicts)
    conflict: bool = False

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
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

    def summary(self) -> str:
        s = (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed"
            f" ({self.chunks_embedded} chunks embedded in {self.seconds:.1f}s)"
        )
        if self.skipped:
            s += f"; {len(self.skipped)} skipped: " + "; ".join(self.skipped)
        return s
