"""The checks a draft answer must pass to be shown: named rules, in the order they run, each
with a reason code and the reason a user (or `rag eval`) sees when it withholds the draft.

Before any of them, a question no passage is close to is withheld without asking the model
(`OFF_TOPIC`). `RAG.check` runs the rest in three stages: `REPLY` on the model's raw reply (before
citing), then citing itself (a draft no passage supports is withheld as `no-citation`), then `RULES`
on the cited draft, and last the model's own yes/no verification (`unconfirmed`, when enabled). The
word lists and measures the rules use are in rag.answer.citations, rag.text.words and
rag.text.numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.answer import citations as cit
from rag.answer.untrusted import unknown_files

NO_ANSWER = "NO_ANSWER"


@dataclass(frozen=True)
class Draft:
    """A cited draft as the rules see it: the texts of the passages it cites, and the thresholds."""

    question: str
    lang: str
    text: str
    cited: list[str]
    min_key_support: float  # RAG_MIN_KEY_SUPPORT


class Withheld(str):
    """Why a draft is withheld: the reason users see (this string), with its rule's `code`."""

    code: str

    def __new__(cls, code: str, reason: str) -> Withheld:
        obj = super().__new__(cls, reason)
        obj.code = code
        return obj


@dataclass(frozen=True)
class Rule:
    """`fails(subject)` returns None when the subject passes, else a detail for `reason` ("" for
    none); a rule without `fails` is decided where its stage runs (RAG.check)."""

    code: str
    reason: str  # may hold "{detail}"
    fails: Callable | None = None

    def withheld(self, detail: str = "") -> Withheld:
        return Withheld(self.code, self.reason.format(detail=detail))


def _key_facts_missing(d: Draft) -> str | None:
    key = cit.key_words(d.text, d.question, d.lang)
    return "" if key and cit.key_support(key, d.cited) < d.min_key_support else None


def refuses(reply: str) -> bool:
    """The model's reply is empty or says NO_ANSWER (in any case, spaced or not)."""
    return not reply or NO_ANSWER in reply.upper().replace(" ", "_")


# On the model's raw reply: (reply, the sources' file names) -> detail or None.
REPLY = (
    Rule(
        "no-answer",
        "the model found no answer",
        lambda reply, sources: "" if refuses(reply) else None,
    ),
    Rule(
        "unknown-file",
        "the answer names a file that is not among the sources ({detail})",
        lambda reply, sources: min(unknown_files(reply, sources), default=None),
    ),
)

# On retrieval: (best dense score or None when nothing was retrieved, RAG_MIN_DENSE_SCORE).
OFF_TOPIC = Rule(
    "off-topic",
    "no passage is close enough to the question",
    lambda best, floor: "" if best is None or best < floor else None,
)
# Stages with no test of their own here: citing finds no passage; the model does not confirm.
NO_CITATION = Rule("no-citation", "no passage supports the answer")

# On the cited draft, in order: the first that fails withholds it.
RULES = (
    Rule(
        "number",
        "a number is not in the cited passages with what it counts",
        lambda d: "" if cit.unsupported_numbers(d.text, d.cited, d.question) else None,
    ),
    Rule(
        "asked-kind",
        "the answer does not give what was asked ({detail})",
        lambda d: cit.missing_kind(d.text, d.question, d.cited) or None,
    ),
    Rule(
        "restates",
        "the answer only restates the question",
        lambda d: None if cit.novel_words(d.text, d.question) else "",
    ),
    Rule("key-facts", "the answer's new facts are not in the cited passages", _key_facts_missing),
)
# The share of all the answer's words in its cited passages is no rule (it withheld none of 231
# drafts of three sets: docs/results/2026-12-07-selective-full.md) but a confidence signal.

# A draft withheld by one of these gets a second look (RAG.stream, RAG_RETRY_WITHHELD): the model
# wrote an answer the passages do not bear out, often a fact of a neighbouring passage; not when
# it found none (no-answer), named an unknown file, or the question is off-topic.
SECOND_LOOK = frozenset((NO_CITATION.code, *(r.code for r in RULES)))

UNCONFIRMED = Rule("unconfirmed", "the model did not confirm the answer from the passages")

# After the checks, on the answer's confidence (rag.answer.confidence), below RAG_MIN_CONFIDENCE:
# with a question name or number missing from the cited passages (said to the user), or not.
PREMISE = Rule("premise", "the cited passages do not mention {detail}")
LOW_CONFIDENCE = Rule("low-confidence", "the answer's confidence is below the threshold ({detail})")

CODES = tuple(
    r.code for r in (OFF_TOPIC, *REPLY, NO_CITATION, *RULES, UNCONFIRMED, PREMISE, LOW_CONFIDENCE)
)


def first_failure(rules, *subject) -> Withheld | None:
    """Why the subject fails the first of `rules` it fails, or None when it passes them all."""
    for rule in rules:
        detail = rule.fails(*subject)
        if detail is not None:
            return rule.withheld(detail)
    return None
