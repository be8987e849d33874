"""Text analysis by language: each language's word lists (rag/text/lexicon/<lang>.json, package
data a user can extend) and the BM25 tokens built from them (stop-words dropped, Snowball stems).

A document is analysed in its own language and a question in its own; `LANGS` are the languages
with a lexicon, and rag.text.language.detect picks one of them.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

from rag.text.normalize import fold

LANGS = ("fr", "en")
_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s's own token pattern: words of 2+ characters


@functools.cache
def lexicon(lang: str) -> dict:
    """The word lists of `lang` ("fr", "en"): stopwords, stemmer, numbers, kinds."""
    if lang not in LANGS:
        raise ValueError(f"no lexicon for language {lang!r}: use one of {', '.join(LANGS)}")
    text = resources.files("rag.text").joinpath("lexicon", f"{lang}.json").read_text("utf-8")
    return json.loads(text)


@functools.cache
def stopwords(lang: str) -> frozenset[str]:
    return frozenset(lexicon(lang)["stopwords"])


@functools.cache
def _stemmer(lang: str):
    import Stemmer

    return Stemmer.Stemmer(lexicon(lang)["stemmer"])


def words(text: str, lang: str, drop: frozenset[str] = frozenset()) -> list[str]:
    """The folded words of `text` that are not stop-words of `lang` (nor in `drop`), unstemmed.

    words("L'appel des présidents", "fr") -> ["appel", "presidents"]
    """
    stop = stopwords(lang) | drop
    return [w for w in _WORD.findall(fold(text)) if w not in stop]


def tokens(text: str, lang: str, stem_as: str | None = None) -> list[str]:
    """BM25 tokens: `lang`'s stop-words dropped, the rest stemmed as `stem_as` (default `lang`).

    tokens("Les présidents ont parlé", "fr") -> ["president", "parl"]
    """
    stem_as = stem_as or lang
    kept = words(text, lang, stopwords(stem_as) if stem_as != lang else frozenset())
    return _stemmer(stem_as).stemWords(kept)
