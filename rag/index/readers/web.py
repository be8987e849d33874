"""Saved web pages (.html): the article's main text and its metadata, read by trafilatura.

trafilatura keeps the article and leaves out menus, comments, "read also" blocks and footers; its
metadata come from the page itself: title, site name (`og:site_name`, JSON-LD publisher), author,
canonical URL, and the publication date that htmldate reads from the meta tags and JSON-LD (its
guesses from the page's text and links are turned off: a date the text states is taken only as
a dateline, rag.index.readers.published).
"""

from __future__ import annotations

import warnings

from rag.core.errors import InputError
from rag.core.types import Document
from rag.index.readers.clean import clean_text, field, make_title
from rag.index.readers.published import iso, stated

MIN_WORDS = 20  # fewer words than this in the main text: a menu, a login or an index page


def read_html(name: str, data: bytes, path: str | None = None) -> Document:
    """One saved article page → a Document whose id is `name`."""
    import trafilatura

    with warnings.catch_warnings():  # lxml's FutureWarning on element truth-testing, inside it
        warnings.simplefilter("ignore", FutureWarning)
        found = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            date_extraction_params={"extensive_search": False, "original_date": True},
            as_dict=True,
        )
    found = found if isinstance(found, dict) else {}
    lines = (found.get("text") or "").split("\n")
    text = clean_text("\n\n".join(line.strip() for line in lines if line.strip()))
    if len(text.split()) < MIN_WORDS:
        raise InputError(
            f"{name}: no article body found in the page, skipped — save the article's own page "
            "(not a home, index or login page)"
        )
    title = field(found.get("title")) or make_title(text)
    return Document(
        id=name,
        title=title,
        text=text,
        published=iso(found.get("date")) or stated(text),
        outlet=field(found.get("sitename")),
        url=field(found.get("url")),
        author=field(found.get("author")),
        format="html",
        path=path,
    )
