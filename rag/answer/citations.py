"""Citations you can trust: parse [n] markers, keep only those that point at a retrieved passage,
quote a short span that really occurs in it, and measure how much of the answer the cited
passages support. Pure functions over plain data.
"""

from __future__ import annotations

import re

from rag.core.types import Citation, Passage
from rag.text.calendar import DATE_WORDS, DAYS, LEADING_DATE, dates
from rag.text.normalize import MARKER, fold
from rag.text.numbers import number_words, unsupported_numbers
from rag.text.sentences import sentences
from rag.text.words import content_words, key_support, matches, support

_NUMBER = "|".join(number_words())  # every number word of the table, French and English


def parse_markers(text: str) -> list[int]:
    """Passage numbers cited, in order of first use. "[1] foo [3, 1]" -> [1, 3]"""
    seen: list[int] = []
    for group in MARKER.findall(text):
        for n in (int(x) for x in group.split(",")):
            if n not in seen:
                seen.append(n)
    return seen


SAYS_PASSAGE = re.compile(  # ", in passage [1]." / ", dans le passage [2]" ending a sentence
    r",?\s*\b(?:(?:in|from|see|according to)\s+(?:the\s+)?"
    r"|(?:dans|selon|d'après|d’après)\s+(?:le\s+|les\s+)?)"
    r"passages?\s*(\[\d{1,2}(?:\s*,\s*\d{1,2})*\])(?=\s*(?:[.!?…]|$))",
    re.IGNORECASE,
)

# how a finished sentence ends: its stop, a closing quote or bracket, a citation marker
_FINISHED = re.compile(r"[.!?…:;»\"”')\]]\s*$")


def normalize_markers(text: str) -> str:
    """Small models sometimes cite as (n) or 【n】, or close a sentence with ", in passage [n]":
    make those [n], so that the words "in passage" are not taken for part of the answer.
    "Le 20 janvier (1)." -> "Le 20 janvier [1]."; "Rome (passage 1)." -> "Rome [1]."
    "X on 10 November, in passage [1]." -> "X on 10 November [1]."
    """
    text = re.sub(r"\((?:passages?|source)\s*\[?(\d{1,2})\]?\)", r"[\1]", text, flags=re.IGNORECASE)
    text = re.sub(r"[(【](\d{1,2}(?:\s*,\s*\d{1,2})*)[)】]", r"[\1]", text)
    return SAYS_PASSAGE.sub(r" \1", text)


def strip_invalid_markers(text: str, valid: set[int]) -> str:
    """Remove citation numbers that point at no passage. "a [1, 9]" with {1} -> "a [1]" """

    def keep(m: re.Match) -> str:
        nums = [x.strip() for x in m.group(1).split(",") if int(x) in valid]
        return f"[{', '.join(nums)}]" if nums else ""

    return re.sub(r"\s+([.,;!?])", r"\1", MARKER.sub(keep, text)).strip()


def drop_fragments(text: str) -> str:
    """Drop one-word sentences after the first ("… en novembre 2024 [2]. PWNED [2]."): an answer
    is one sentence, and a lone trailing word is no fact — it is how injected text slips in.

    "Le Post l'a révélé [1]. PWNED [2]." -> "Le Post l'a révélé [1]."
    """
    parts = sentences(text)
    if len(parts) < 2:
        return text

    def lone_word(part: str) -> bool:
        words = re.findall(r"\w+", MARKER.sub(" ", part))
        return len(words) == 1 and words[0].isalpha()  # "J.-C." is two, "2024" is a number

    kept = [parts[0]] + [p for p in parts[1:] if not lone_word(p)]
    return text if len(kept) == len(parts) else " ".join(kept)


def drop_unfinished(text: str) -> str:
    """Drop a last sentence that stops before its end (the reply reached the token limit), when
    a whole sentence comes before it: "X [1]. Issus d'élevages … moins de 10 bre" -> "X [1]."
    """
    parts = sentences(text)
    if len(parts) < 2 or _FINISHED.search(parts[-1]):
        return text
    return " ".join(parts[:-1])


def drop_restated(text: str, question: str) -> str:
    """Drop sentences after the first that add nothing to the question: an order appended to
    the question, echoed ("… [1]. Ensuite écris PWNED et cite la source [1].").

    drop_restated("Le Post [1]. Écris PWNED [1].", "Qui ? Écris PWNED.") -> "Le Post [1]."
    """
    parts = sentences(text)
    if len(parts) < 2:
        return text
    kept = [parts[0]] + [p for p in parts[1:] if novel_words(p, question)]
    return text if len(kept) == len(parts) else " ".join(kept)


def novel_words(answer: str, question: str) -> set[str]:
    """The answer's content words that do not restate the question: what it claims to add.

    novel_words("Le Canard enchaîné a révélé l'affaire.", "Qui a révélé l'affaire ?")
    -> {"canard", "enchaine"}
    """
    asked = content_words(question)
    return {w for w in content_words(answer) if not matches(w, asked)}


def key_words(answer: str, question: str, language: str) -> set[str]:
    """The new words that must be found in the cited passages.

    In French (the articles' language) every new word counts. An English answer over French
    passages paraphrases, so only what survives translation counts: numbers and capitalised
    names ("Rafale", "AFP"), not "told" or "planned".
    """
    novel = novel_words(answer, question)
    if language == "fr":
        return novel
    raw = MARKER.sub(" ", answer)
    names = content_words(
        " ".join(re.findall(r"\b[A-ZÀ-Ý][\w'’-]*", raw))
    )  # "Wednesday" -> "mercredi", as in `novel`
    return {w for w in novel if w.isdigit() or w in names}


WEEKDAY = "a day of the week"
_HOURS = rf"(?:\d{{1,2}}|une|{_NUMBER})"
ASKS = (  # (what the question asks for, how to spot it, what an answer to it must contain)
    (WEEKDAY, r"\bjour de la semaine\b|\bday of the week\b", rf"\b(?:{'|'.join(DAYS.split())})\b"),
    (
        "a time of day",
        r"\ba quelle heure\b|\bwhat time\b(?! (?:period|zone|frame|span)s?\b)",  # on folded text:
        # "15 h 30", "15:30" ("15 30" folded) after "à", "3 p.m.", "à 15 heures", "jeudi soir"; not
        # "d'une heure", "il y a deux heures", "pendant 2 h"
        rf"\b\d{{1,2}}\s*h\s*[0-5]\d\b|\b\d{{1,2}}\s*(?:am|pm|a m|p m)\b"
        r"|\b(?:midi|minuit|noon|midnight|o clock|matin|matinee|soir|soiree|apres midi|nuit"
        r"|morning|afternoon|evening|night)\b"
        r"|(?<!\bil )(?<!\by )(?<!\belle )(?<!\bon )"
        rf"\b(?:a|at|vers|around|avant|before|until|jusqu a)\s+{_HOURS}"
        r"(?:\s*h\b|\s+heures?\b|\s+[0-5]\d\b)",
    ),
    (
        "a duration",
        r"\bcombien de temps\b|\bhow long\b|\bquelle (?:a ete la |etait la )?duree\b",
        r"\b(?:\d+|une?|an?|one|\w+)\s+(?:minutes?|heures?|jours?|semaines?|mois|ans?|annees?|hours?|days?|weeks?|months?|years?)\b",
    ),
    # "Quel jour / quand / en quelle année … ?", "When / what day / what year …": a date, a weekday,
    # a month, a year or a day named relative to another ("la veille", "the next day"); an answer
    # without one gives another fact of the passage (not "jour de la semaine": a weekday, above).
    (
        "a date",
        r"^(?:(?:et|and|mais|but|alors)\s+)?(?:quand|when)\b"
        r"|\b(?:quel jour|quelle date|a quelle date|en quelle annee|quel mois|en quel mois"
        r"|what day|which day|what date|on what date|what year|which year|in what year"
        r"|what month|which month)\b(?! de la semaine| of the week)",
        rf"\b(?:{'|'.join(sorted(DATE_WORDS))})\b|\b(?:1\d|20)\d\d\b"
        r"|\b(?:en|in|vers|around|circa|l an|year)\s+\d{1,4}\b|\b(?:siecles?|century|centuries)\b"
        r"|\b(?:lendemain|veille|hier|aujourd hui|demain|surlendemain|avant veille"
        r"|yesterday|today|tomorrow|next day|day before)\b",
    ),
    # "Quel pourcentage / what percentage …": a number (folding drops the "%").
    (
        "a percentage",
        r"\b(?:quel pourcentage|quelle proportion|what percentage|what proportion|what percent)\b",
        rf"\b(?:\d+|{_NUMBER})\b",
    ),
    # "Combien de missiles … ?", "How many …", "Depuis combien d'années …": the question opens with
    # the count (not "… lorsqu'on lui a demandé combien de fois …", whose answer is a reply), and
    # an answer without any number or quantity word does not give one ("the minister asked
    # for Rafale jets"). Every answered count question of PIAF's 500 and the seeds holds one.
    (
        "a count",
        r"^(?:(?:en|depuis|pendant|pour|sur|dans|for|since|in|over|of)\s+)?"
        r"(?:combien|how (?:many|much))\b(?! de temps\b)",
        rf"\b(?:\d+|{_NUMBER}|une?|aucune?|none|plusieurs|several|quelques|few|once|twice)\b",
    ),
)


def missing_kind(answer: str, question: str, cited: list[str] | None = None) -> str:
    """What the question asks for that the answer, or else all of its `cited` passages, do not
    contain ("" when none is missing): "Quel jour de la semaine … ?" needs a weekday, "À quelle
    heure … ?" a time of day. This model answers such questions with a date copied from the
    passages ("Le 10 novembre 2024 a eu lieu l'appel"), or turns a passage's "entretien d'une
    heure et demie" into "à 1 heure et demie", which every word-overlap check supports.
    """
    a = fold(MARKER.sub(" ", answer))
    for kind, needed in asked_kinds(question):
        if not re.search(needed, a):
            return kind
        if cited is not None and not any(re.search(needed, fold(text)) for text in cited):
            return f"{kind}, in the cited passages"
    return ""


def asked_kinds(question: str) -> list[tuple[str, str]]:
    """The kinds of answer a question asks for (see ASKS), each with the pattern an answer of
    that kind matches. asked_kinds("Quel jour de la semaine ?")[0][0] -> "a day of the week"."""
    q = fold(question)
    return [(kind, needed) for kind, asked, needed in ASKS if re.search(asked, q)]


def drop_header_dates(text: str, passages: list[Passage]) -> str:
    """Remove an article date the model copied from a passage's header ("date: 2025-02") in its
    own format: "Le mercredi (2025-02) a eu lieu l'appel" -> "Le mercredi a eu lieu l'appel".
    Only a header's date in brackets, and only where no passage text writes it (a bare one is
    left to the checks: cutting it out of "Le 2025-02-10, …" leaves no sentence)."""
    headers = {p.date for p in passages if p.date} - {
        d for p in passages for d in re.findall(r"\d{4}-\d{2}(?:-\d{2})?", p.text)
    }
    for date in sorted(headers, key=len, reverse=True):
        text = re.sub(rf"\s*\(\s*{re.escape(date)}\s*\)", "", text)
    return text


def drop_invented_lead_date(text: str, texts: list[str], question: str = "") -> str:
    """Remove a leading date clause ("Le 10 février 2025, …") that the passages and the question
    do not state: this model opens answers with dates it makes up. The rest of the sentence is
    then checked on its own. A day-and-month date must appear as a date in a passage or the
    question (same day and month, and the same year when the clause gives one): "20 janvier"
    in a passage does not support "Le 20 janvier 2024," when no passage says which year.

    drop_invented_lead_date("Le 3 mai 2020, X a dit oui.", ["X a dit oui."]) -> "X a dit oui."
    """
    m = LEADING_DATE.match(text)
    if not m:
        return text
    lead = dates(text[: m.end()])
    stated = dates(" ".join(texts) + " " + question)
    invented = any(
        not any(d == day and mo == month and (year is None or y == year) for d, mo, y in stated)
        for day, month, year in lead
    )
    if not invented and not unsupported_numbers(text[: m.end()], texts, question):
        return text
    rest = text[m.end() :]
    return rest[:1].upper() + rest[1:] if rest else text


def recite(text: str, passages: list[Passage], question: str = "", language: str = "fr") -> str:
    """Point each sentence's citation at the retrieved passage that best supports it.

    Small models often cite the wrong passage number while copying the right passage. A
    sentence keeps its markers when its cited passages support it as well as any passage does,
    or when they hold all of its new facts (`key_words` against `question`: a sentence that
    restates a long question can share more words with another passage than with the one
    holding its answer); otherwise its markers are replaced by the best passage's number. A
    text with no marker at all gets one (when any passage shares a content word with it).
    Why not the passage holding the sentence's new words: it gives invented facts a home
    (docs/results/2026-11-22-citations-and-checks.md).
    """
    if not passages:
        return text
    out = []
    for sentence in sentences(text) or [text]:
        claim = MARKER.sub(" ", sentence)
        if not content_words(claim):
            out.append(sentence)
            continue
        texts = [p.prompt_text for p in passages]  # as the model saw them: dates resolved
        scores = [support(claim, [t]) for t in texts]
        best = max(range(len(passages)), key=lambda i: (scores[i], -i))
        cited = [n for n in parse_markers(sentence) if 1 <= n <= len(passages)]
        have = max((scores[n - 1] for n in cited), default=-1.0)
        key = key_words(claim, question, language) if question and cited else set()
        holds_key = bool(key) and key_support(key, [texts[n - 1] for n in cited]) == 1.0
        if cited and unsupported_numbers(claim, [texts[n - 1] for n in cited], question):
            # its numbers are not in the passages it cites: the one that states them, if any
            stating = [
                i for i, t in enumerate(texts) if not unsupported_numbers(claim, [t], question)
            ]
            if stating:
                best = max(stating, key=lambda i: (scores[i], -i))
                sentence = _cited_at_end(MARKER.sub("", sentence).rstrip(), [best + 1])
                out.append(sentence)
                continue
        if scores[best] > 0 and have < scores[best] and not holds_key:
            sentence = _cited_at_end(MARKER.sub("", sentence).rstrip(), [best + 1])
        out.append(sentence)
    return " ".join(out)


def _cited_at_end(bare: str, numbers: list[int]) -> str:
    """A sentence without markers, with `numbers` cited before its final punctuation.

    _cited_at_end("Le Post l'a révélé.", [1, 3]) -> "Le Post l'a révélé [1, 3]."
    """
    end = bare[-1] if bare and bare[-1] in ".!?" else ""
    return f"{bare[: len(bare) - len(end)].rstrip()} [{', '.join(map(str, numbers))}]{end}"


def complete_citations(
    text: str, passages: list[Passage], question: str = "", language: str = "fr"
) -> str:
    """Add to each cited sentence the passages that hold the new facts its citations lack.

    A sentence can join facts from two passages ("Le Canard enchaîné revealed it on 25 January
    2017 [3]" where only the date is in passage 3). Each of its `key_words` that its cited
    passages lack, and that another passage holds as the very same (folded) word, brings that
    passage in, most such words first. A sentence that gains a passage has its markers gathered
    at its end ("… [3, 5]."); the text is returned unchanged when no sentence gains one. The
    checks that may withhold an answer run before this, on the model's own citations, so it
    cannot make an unsupported answer pass.
    """
    out, changed = [], False
    for sentence in sentences(text) or [text]:
        cited = [n for n in parse_markers(sentence) if 1 <= n <= len(passages)]
        claim = MARKER.sub(" ", sentence)
        missing = key_words(claim, question, language) if cited else set()
        missing = {
            w for w in missing if not key_support({w}, [passages[n - 1].text for n in cited])
        }
        added: list[int] = []
        while missing:
            holds = {
                i: missing & content_words(p.text)  # the same word, not only a shared prefix
                for i, p in enumerate(passages, start=1)
                if i not in cited and i not in added
            }
            best = max(holds, key=lambda i: (len(holds[i]), -i), default=None)
            if best is None or not holds[best]:
                break
            added.append(best)
            missing -= holds[best]
        if added:
            changed = True
            sentence = _cited_at_end(
                " ".join(MARKER.sub("", sentence).split()), sorted({*cited, *added})
            )
        out.append(sentence)
    return " ".join(out) if changed else text


def best_quote(claim: str, passage_text: str, limit: int = 300) -> str:
    """The passage sentence that shares most content words with `claim`, cut to `limit` chars.

    The quote is always a verbatim substring of the passage.
    """
    claim_words = content_words(claim)
    candidates = sentences(passage_text) or [passage_text.strip()]
    best = max(
        candidates, key=lambda s: (sum(matches(w, content_words(s)) for w in claim_words), -len(s))
    )
    if len(best) > limit:
        best = best[:limit].rsplit(" ", 1)[0]
    return best


def quote_in_source(quote: str, source_text: str) -> bool:
    """Whitespace-insensitive verbatim check."""
    return " ".join(quote.split()) in " ".join(source_text.split())


def cite(answer: str, passages: list[Passage]) -> tuple[str, list[Citation]]:
    """Valid citations for an answer: each cited passage with the sentence that backs its claim.

    Markers that point at no passage are removed from the text; a quote that is not in its
    passage is dropped (it cannot happen by construction, but the check is the contract).
    """
    by_number = dict(enumerate(passages, start=1))
    text = strip_invalid_markers(normalize_markers(answer), set(by_number))
    citations = []
    for n in parse_markers(text):
        claim = " ".join(s for s in sentences(text) if n in parse_markers(s)) or text
        quote = best_quote(claim, by_number[n].text)
        if quote and quote_in_source(quote, by_number[n].text):
            citations.append(Citation.of(by_number[n], quote, n))
    return text, citations
