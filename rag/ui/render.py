"""Rendering an `Answer` for the page: cited sources as HTML, clickable markers, latency line.

Pure functions from `rag.core.types.Answer` (and the page's language) to markdown or HTML strings:
each citation's passage with its quoted span in <mark>, the [n] markers in the chat turned into
links to those sources, the optional retrieval scores and the timing line. Nothing here touches
gradio or the pipeline, so the output can be checked as text.
"""

from __future__ import annotations

import html
import re

from rag.answer.byline import DASH, day_label, host, web_link
from rag.core.types import Answer, Citation
from rag.text.normalize import MARKER
from rag.ui.i18n import TEXT


def link_markers(text: str, answer: Answer) -> str:
    """ "Paris [1, 2]." -> "Paris [[1]](#src-1) [[2]](#src-2)." for the cited numbers only."""
    cited = {c.number for c in answer.citations}

    def link(m: re.Match) -> str:
        nums = [int(n) for n in m.group(1).split(",")]
        return " ".join(f"[\\[{n}\\]](#src-{n})" if n in cited else f"\\[{n}\\]" for n in nums)

    return MARKER.sub(link, text)


def sources_html(answer: Answer | None, show_scores: bool = False, ui: str = "fr") -> str:
    """Each citation: outlet (or file name), publication date, title and link (`source_header`),
    then its passage with the quoted span in <mark>."""
    t = TEXT[ui]
    if answer is None:
        return _note(t["sources_hint"])
    if answer.abstained:
        return _note(t["no_sources"])
    by_chunk = {p.chunk_id: p for p in answer.passages}
    quotes: dict[int, list[str]] = {}  # a passage cited twice (a report and its denial): one entry
    first: dict[int, Citation] = {}
    for c in answer.citations:
        quotes.setdefault(c.number, []).append(c.quote)
        first.setdefault(c.number, c)
    items = []
    for c in first.values():
        p = by_chunk.get(c.chunk_id)
        scores = f'<div class="scores">{_scores(p)}</div>' if p and show_scores else ""
        marked = quotes[c.number]
        body = (
            highlight(p.text, *marked)
            if p
            else " ".join(f"<mark>{html.escape(q)}</mark>" for q in marked)
        )
        items.append(
            f'<article class="source" id="src-{c.number}" tabindex="-1">'
            f"{source_header(c, answer.language)}{scores}<p>{body}</p></article>"
        )
    if show_scores:
        rows = "".join(
            f"<tr><td>{p.rank}</td><td>{html.escape(p.source)}</td><td>{_scores(p)}</td></tr>"
            for p in answer.passages
        )
        items.append(
            f"<details open><summary>{t['retrieved']}</summary><table>{rows}</table></details>"
        )
    heading = f"<h3>{t['sources']}</h3>"
    return (
        f'<section class="sources" aria-label="{t["sources"]}">{heading}{"".join(items)}</section>'
    )


def source_header(c: Citation, lang: str = "fr") -> str:
    """A source's header in the answer's language: "[1] Outlet, 31 janvier 2017 — Title
    (site)", the file name standing in for an unknown outlet (and named in the tooltip), the
    link only to a web address (rag.answer.byline)."""
    who = html.escape(c.outlet or c.source)
    when = day_label(c.published, lang)
    time = (
        f', <time datetime="{html.escape(c.published or "")}">{html.escape(when)}</time>'
        if when
        else ""
    )
    title = " ".join((c.title or "").split())
    cite = f"{DASH}<cite>{html.escape(title)}</cite>" if title else ""
    url = web_link(c.url)
    link = (
        f' (<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">'
        f"{html.escape(host(url))}</a>)"
        if url
        else ""
    )
    return (
        f'<header title="{html.escape(c.source)}"><span class="num">[{c.number}]</span> '
        f"<strong>{who}</strong>{time}{cite}{link}</header>"
    )


def _scores(p) -> str:
    dense = f"{p.dense_score:.3f}" if p.dense_score is not None else "–"
    bm25 = f"{p.bm25_score:.2f}" if p.bm25_score is not None else "–"
    return f"score {p.score:.4f} · dense {dense} · BM25 {bm25}"


def highlight(text: str, *quotes: str) -> str:
    """Escape `text` and wrap each (whitespace-insensitive) occurrence of a quote in <mark>."""
    spans: list[tuple[int, int]] = []
    for quote in quotes:
        words = quote.split()
        m = re.search(r"\s+".join(map(re.escape, words)), text) if words else None
        if m and not any(m.start() < end and start < m.end() for start, end in spans):
            spans.append((m.start(), m.end()))
    out, at = [], 0
    for start, end in sorted(spans):
        out += [html.escape(text[at:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        at = end
    return "".join(out) + html.escape(text[at:])


def latency_text(answer: Answer, wall_s: float | None, ui: str = "fr") -> str:
    t, tm = TEXT[ui], answer.timings
    first = f"{tm.first_token_s:.1f} s" if tm.first_token_s is not None else "–"
    text = (
        f"{t['latency']}{t['colon']}{t['first_token']} {first} · {t['total']} {tm.total_s:.1f} s"
        f" · {t['retrieval']} {tm.retrieval_s * 1000:.0f} ms"
    )
    if wall_s is not None and wall_s - tm.total_s > 0.5:  # model loading on the first question
        text += f" · {t['wall']} {wall_s:.1f} s"
    return text


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'
