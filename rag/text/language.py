"""Which language a question is in: French or English, from function words and accents.

Hand-written because the two-language case is this small; a library detector would add a
dependency and still misjudge short questions.
"""

from __future__ import annotations

import re

FR = {
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "d",
    "l",
    "qui",
    "que",
    "quoi",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "quand",
    "où",
    "comment",
    "combien",
    "pourquoi",
    "est",
    "sont",
    "a",
    "ont",
    "été",
    "et",
    "ou",
    "avec",
    "pour",
    "par",
    "sur",
    "dans",
    "au",
    "aux",
    "ce",
    "cette",
    "ces",
    "il",
    "elle",
    "ils",
    "elles",
    "son",
    "sa",
    "ses",
    "leur",
    "lors",
    "selon",
    "entre",
    "après",
    "avant",
    "pas",
    "ne",
    "y",
    "en",
    "qu",
    "s",
    "se",
}
EN = {
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "on",
    "at",
    "by",
    "for",
    "with",
    "from",
    "and",
    "or",
    "who",
    "what",
    "which",
    "when",
    "where",
    "why",
    "how",
    "many",
    "much",
    "is",
    "are",
    "was",
    "were",
    "did",
    "does",
    "do",
    "has",
    "have",
    "had",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "their",
    "his",
    "her",
    "between",
    "after",
    "before",
    "not",
    "about",
}


def detect(text: str) -> str:
    """'fr' or 'en'. "Who reported the call?" -> "en"; "Qui a rapporté l'appel ?" -> "fr"."""
    words = re.findall(r"[a-zàâäçéèêëîïôöùûüÿœ]+", text.lower().replace("’", "'"))
    fr = sum(w in FR for w in words) + 2 * len(re.findall(r"[àâçéèêëîïôùûœ]", text.lower()))
    en = sum(w in EN for w in words)
    return "en" if en > fr else "fr"


NAMES = {"fr": "French", "en": "English"}
ABSTAIN = {
    "fr": "Les articles ne le disent pas.",
    "en": "The articles don't say.",
}
