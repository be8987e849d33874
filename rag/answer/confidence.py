"""How far to trust an answer: a confidence in [0, 1] from signals that hold on any corpus.

- **premise**: the names and numbers of the question are in the passages the answer cites (a
  person, place or number no passage has is a false premise, or the answer is about something
  else); the abstention then says what is missing;
- **support**, **key support**: the checks' word overlap of the answer with its cited passages
  (rag.answer.citations);
- **model**: the model's probability of its short answer and of NO_ANSWER (`LLM.choose` over the
  cited sentences' spans, rag.answer.short);
- **agreement**: the draft written from the passages in the other order agrees with this one;
- **focus**: the question's words are around the answer where the passage gives it (the sentence
  holding the short answer and its neighbours): a fact taken from a sentence about something else
  (the commonest error of the bundled model) has few of them.

`combine` multiplies them (hand-set, not fitted: docs/results/2026-12-07-confidence.md shows the
risk–coverage curves it gives on the development sets). `RAG_MIN_CONFIDENCE` is the one threshold.

    missing_terms("Combien de Boeing 787 l'Iran a-t-il commandés ?", ["… 114 Airbus …"])
    -> ("Boeing", "787", "Iran")
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from rag.answer import citations as cit
from rag.answer import word_list
from rag.answer.checks import LOW_CONFIDENCE, PREMISE
from rag.core.sections import AnswerSettings
from rag.core.types import Answer, Passage, Signals
from rag.text.language import ABSTAIN, detect
from rag.text.normalize import MARKER, fold
from rag.text.timeline import DAY_NAMES_EN, DAY_NAMES_FR, MONTH_EN, MONTH_FR
from rag.text.words import NUMBER_WORDS, content_words, matches

log = logging.getLogger(__name__)
# Capitalised words that are no names: function words that start a clause, months and days.
NOT_NAMES = frozenset(
    {
        *word_list("not_names"),
        *(fold(m) for m in MONTH_FR + MONTH_EN),
        *(fold(d) for d in DAY_NAMES_FR + DAY_NAMES_EN),
    }
)
ELISION = re.compile(r"^(?:[dlnsjcm]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
EDGE = ',.;:!?«»()[]"“”‘’…'
SIMILAR = 0.8  # difflib ratio at which two name spellings are one name ("Gorbachev", "Gorbatchev")
# How much each failed signal lowers the confidence (hand-set: the note above says why).
PREMISE_FAILED = 0.1  # a name or number no passage shown has
UNCITED = 0.5  # at most: the passages shown have them, the cited ones not all
DISAGREES = 0.5
FOCUS_FULL = 0.5  # share of the question's words around the answer from which focus lowers nothing
FOCUS_WINDOW = 1  # sentences each side of the answer's sentence
SENTENCE_END = re.compile(r"(?<=[.!?»])\s+")
MISSING = {
    "fr": "Les articles ne mentionnent pas {terms}.",
    "en": "The articles do not mention {terms}.",
}
QUOTES = {"fr": ("« ", " »"), "en": ("“", "”")}


def _tokens(question: str) -> list[tuple[str, bool]]:
    """The question's words, punctuation and elisions trimmed, each with whether a sentence
    starts with it ("Qui ? Le Monde." -> [("Qui", True), ("Le", True), ("Monde", False)])."""
    out, starts = [], True
    for raw in MARKER.sub(" ", question).split():
        word = ELISION.sub("", raw.strip(EDGE)).removesuffix("'s").removesuffix("’s")
        if word:
            out.append((word, starts))
        starts = raw.rstrip('»”")').endswith((".", "?", "!", ":"))
    return out


def premise_terms(question: str) -> list[str]:
    """The names (runs of capitalised words not at a sentence's start, with at least one word
    that is not a function word) and numbers (digits or number words) of a question, as written.

    premise_terms("Pourquoi Édouard Philippe a-t-il tweeté le 1er décembre 2018 ?")
    -> ["Édouard Philippe", "2018"]
    """
    terms: list[str] = []
    run: list[str] = []
    for word, starts in [*_tokens(question), ("", True)]:
        folded = fold(word).split()
        if word[:1].isupper() and not starts:
            run.append(word)
            continue
        if any(w not in NOT_NAMES for w in fold(" ".join(run)).split()):
            terms.append(" ".join(run))
        run = []
        if folded and all(w.isdigit() or w in NUMBER_WORDS for w in folded):
            terms.append(word)
    return list(dict.fromkeys(terms))


def _found(word: str, vocabulary: set[str]) -> bool:
    """One folded word of a term in the passages' words: a number exactly; a name exactly, by
    a shared stem, or spelt alike with the same initial ("gorbachev" ~ "gorbatchev")."""
    if word.isdigit():
        return word in vocabulary
    if word in vocabulary or (len(word) >= 4 and matches(word, vocabulary)):
        return True
    return len(word) >= 4 and any(
        v[:1] == word[:1]
        and abs(len(v) - len(word)) <= 3
        and difflib.SequenceMatcher(None, word, v).ratio() >= SIMILAR
        for v in vocabulary
    )


def missing_terms(question: str, texts: Sequence[str]) -> tuple[str, ...]:
    """The question's names and numbers (`premise_terms`) that the texts do not hold, each as
    its words the texts lack ("Américain Jean Dupontel" -> "Jean Dupontel"); accents and case
    folded, number words as digits ("deux" = "2"), function words ("Le") not sought."""
    vocabulary = set(fold(" ".join(texts)).split()) | content_words(" ".join(texts))
    missing = []
    for term in premise_terms(question):
        words = term.split()
        lacking = [i for i, word in enumerate(words) if not _holds(word, vocabulary)]
        if lacking:  # from the first word lacking to the last: "Marine Le Pen", not "Marine Pen"
            missing.append(" ".join(words[lacking[0] : lacking[-1] + 1]))
    return tuple(missing)


def _holds(word: str, vocabulary: set[str]) -> bool:
    folded = [NUMBER_WORDS.get(w, w) for w in fold(word).split()]
    sought = [w for w in folded if w.isdigit() or (len(w) > 2 and w not in NOT_NAMES)]
    return all(_found(w, vocabulary) for w in sought)


def is_number(term: str) -> bool:
    """A term of `premise_terms` that is a number ("787", "deux"), not a name."""
    return all(w.isdigit() or w in NUMBER_WORDS for w in fold(term).split())


def premise(question: str, texts: Sequence[str]) -> tuple[float, tuple[str, ...]]:
    """(share of the question's names and numbers the texts hold, 1.0 with none; those missing)."""
    terms = premise_terms(question)
    missing = missing_terms(question, texts)
    return (1.0 - len(missing) / len(terms) if terms else 1.0), missing


def agrees(first: str, second: str, short: str | None = None) -> bool:
    """Two drafts say the same: the first's short answer is in the second, or their content
    words are mostly the same (Jaccard ≥ 0.5, words matched by stem).

    agrees("Le Canard enchaîné [1].", "Selon le Canard enchaîné [2].") -> True
    """
    if short and f" {fold(short)} " in f" {fold(MARKER.sub(' ', second))} ":
        return True
    a, b = content_words(first), content_words(second)
    if not a or not b:
        return False
    shared = sum(matches(w, b) for w in a)
    return shared / (len(a) + len(b) - shared) >= 0.5


def focus(
    question: str, short: str | None, quotes: Sequence[str], texts: Sequence[str]
) -> float | None:
    """The share of the question's content words found around the answer: in the sentence of a
    cited passage that holds the short answer (without one, the cited quote), with the sentence
    before and after; the best over the passages. None when the question has no content word,
    or is not in the passages' language (its words are translated there).

    focus("Qui a remporté le Tour de France 2017 ?", "Christopher Froome",
          [], ["Christopher Froome remporte le Tour de France 2017. Il pleuvait."]) -> 1.0
    """
    asked = content_words(question)
    if not asked or not texts or detect(question) != detect(" ".join(texts)):
        return None
    target = fold(short) if short else None
    best = 0.0
    for text in texts:
        sentences = [s for s in SENTENCE_END.split(text) if s.strip()]
        for i, sentence in enumerate(sentences):
            if target is not None and target not in fold(sentence):
                continue
            if target is None and not any(q[:40] and q[:40] in sentence for q in quotes):
                continue
            around = " ".join(sentences[max(0, i - FOCUS_WINDOW) : i + FOCUS_WINDOW + 1])
            words = content_words(around)
            best = max(best, sum(matches(w, words) for w in asked) / len(asked))
    return best


def combine(s: Signals) -> float:
    """The confidence: the model's probability that the passages answer (1 − P(NO_ANSWER)),
    times the answer's support, lowered by a failed premise (much when no passage shown has one
    of the question's names or numbers, less when only the cited ones lack it) and by a
    disagreeing second draft; a signal not measured counts 1.

    combine(Signals(support=1.0, no_answer=0.2)) -> 0.8
    """
    model = 1.0 if s.no_answer is None else 1.0 - s.no_answer
    support = s.support if s.key_support is None else min(s.support, s.key_support)
    premise_factor = PREMISE_FAILED if s.missing else 1.0 - UNCITED * (1.0 - s.premise)
    agreement = 1.0 if s.agreement is None else DISAGREES + (1 - DISAGREES) * s.agreement
    focused = 1.0 if s.focus is None else min(1.0, s.focus / FOCUS_FULL)
    return max(0.0, min(1.0, model * support * premise_factor * agreement * focused))


def _cited(answer: Answer) -> list[Passage]:
    by_id = {p.chunk_id: p for p in answer.passages}
    return list(dict.fromkeys(by_id[c.chunk_id] for c in answer.citations if c.chunk_id in by_id))


def cited_texts(answer: Answer) -> list[str]:
    """The passages the answer cites, as the model saw them (dates resolved), with their titles."""
    return [f"{p.title}\n{p.prompt_text}" for p in _cited(answer)]


def measure(answer: Answer, model: Signals | None = None) -> Signals:
    """The signals of a cited answer that need no model: premise, support and key support, with
    the model's probabilities from `model` (`RAG.shorten`'s), if any."""
    question = answer.standalone_question or answer.question
    texts = cited_texts(answer)
    share, _ = premise(question, texts)
    # what no passage shown has (the user is told); one only the cited ones lack weighs less.
    # A question in another language than the passages translates names ("White House",
    # "French"): there only its numbers are sought.
    shown = [f"{p.title}\n{p.prompt_text}" for p in answer.passages]
    missing = missing_terms(question, shown)
    if shown and detect(question) != detect(" ".join(shown)):
        missing = tuple(t for t in missing if is_number(t))
    key = cit.key_words(answer.text, question, answer.language)
    return Signals(
        premise=share,
        missing=missing,
        support=cit.support(answer.text, texts, question),
        key_support=cit.key_support(key, texts) if key else None,
        chosen=model.chosen if model else None,
        no_answer=model.no_answer if model else None,
        focus=focus(
            question,
            answer.short,
            [c.quote for c in answer.citations],
            [p.prompt_text for p in _cited(answer)],
        ),
    )


def missing_text(missing: Sequence[str], lang: str) -> str:
    """The abstention that says what the articles lack.

    missing_text(["Hubble"], "fr") -> "Les articles ne mentionnent pas « Hubble »."
    """
    left, right = QUOTES[lang]
    terms = ", ".join(f"{left}{t}{right}" for t in missing)
    return MISSING[lang].format(terms=terms)


def judge(
    answer: Answer,
    settings: AnswerSettings,
    second_opinion: Callable[[Answer], float | None],
    agreement: float | None = None,
) -> Answer:
    """The answer with its confidence, withheld when it is below `settings.min_confidence`:
    then saying which of the question's names and numbers the cited passages lack, if any.
    Below `settings.agreement_below`, `second_opinion` (a second draft from the passages in
    reverse order, compared: RAG._agreement) gives the agreement, unless it is known already."""
    if answer.abstained or not answer.citations:
        return answer
    begun = time.perf_counter()
    signals = measure(answer, answer.signals)
    below = settings.agreement_below
    if agreement is None and (below >= 1 or combine(signals) < below):
        agreement = second_opinion(answer)
    signals = replace(signals, agreement=agreement)
    level = combine(signals)
    timings = replace(answer.timings, confidence_s=time.perf_counter() - begun)
    answer = replace(answer, confidence=level, signals=signals, timings=timings)
    if level >= settings.min_confidence:
        return answer
    lang, missing = answer.language, signals.missing
    rule = PREMISE if missing else LOW_CONFIDENCE
    withheld = rule.withheld(", ".join(missing) or f"{level:.2f} < {settings.min_confidence}")
    log.info("withheld: %s", withheld)
    return replace(
        answer,
        text=missing_text(missing, lang) if missing else ABSTAIN[lang],
        abstained=True,
        citations=(),
        short=None,
        withheld=withheld.code,
    )
