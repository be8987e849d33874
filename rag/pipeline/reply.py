"""The model's reply: the messages that ask for it, its checks, and the answer it becomes.

Plain functions over settings, passages and the model, called by `RAG` (rag.pipeline), whose
`check` and `verify` are these."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rag.answer import checks
from rag.answer import citations as cit
from rag.answer.checks import Draft, Withheld, first_failure
from rag.answer.prompts import passage_blocks, render
from rag.answer.untrusted import without_orders
from rag.core.settings import Settings
from rag.core.types import Answer, Citation, Passage, Timings
from rag.text.language import ABSTAIN, NAMES

if TYPE_CHECKING:
    from rag.llm.base import LLM


def messages(prompts_dir: Path, question: str, passages: list[Passage], lang: str) -> list[dict]:
    """The system and user messages that ask the model to answer from the numbered passages."""
    blocks = passage_blocks(passages)
    system = render(prompts_dir, "system", language=NAMES[lang])
    user = render(
        prompts_dir,
        "answer",
        passages=blocks,
        question=question,
        language=NAMES[lang],
    )
    if any(kind == cit.WEEKDAY for kind, _ in cit.asked_kinds(question)):
        # Told what is asked, this model gives a weekday rather than a date more often
        # (measured: docs/results/2026-11-22-citations-and-checks.md).
        user += "\n" + render(prompts_dir, f"weekday.{lang}")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def check(
    settings: Settings,
    question: str,
    lang: str,
    raw: str,
    passages: list[Passage],
    verify: Callable[[str, str, list[str]], bool],
) -> tuple[str, list[Citation], Withheld | Literal[""]]:
    """The model's reply, cited and checked: (text, citations, `Withheld` reason or "").

    The rules, their order and their reason codes are in rag.answer.checks. Between the reply
    rules and the others the reply is cited: one-word trailing fragments and sentences that only
    echo the question and an article date copied from a passage header dropped
    (`cit.drop_fragments`, `cit.drop_restated`, `cit.drop_header_dates`), citations re-pointed
    at the passage that supports each sentence best (`cit.recite`) and kept only when they name
    a retrieved passage, and a leading date the cited passages lack cut off (this model opens
    with invented dates). An answer that passes gets, for each sentence, the passages holding
    new facts its own citations lack (`cit.complete_citations`). `verify` (question, text, cited
    passages) -> whether the model confirms them, asked with `settings.advanced.verify` on.
    """
    text, citations, drafted = cited_draft(settings, question, lang, raw, passages)
    if isinstance(drafted, Withheld):
        return text, citations, drafted
    failed = first_failure(checks.RULES, drafted)
    if failed:
        return text, citations, failed
    if settings.advanced.verify and not verify(question, text, drafted.cited):
        return text, citations, checks.UNCONFIRMED.withheld()
    completed = cit.complete_citations(text, passages, question, lang)
    if completed != text:
        text, citations = cit.cite(completed, passages)
    return text, citations, ""


def cited_draft(
    settings: Settings, question: str, lang: str, raw: str, passages: list[Passage]
) -> tuple[str, list[Citation], Draft | Withheld]:
    """The reply cited, as `check` describes, before the rules on the cited draft: (text,
    citations, the `Draft` those rules read), or the reply rule or `no-citation` that withholds
    it. Also what benchmarks/ablation.py replays every rule on."""
    raw = raw.strip()
    failed = first_failure(checks.REPLY, raw, {p.source for p in passages})
    if failed:
        return raw, [], failed
    raw = cit.drop_restated(
        cit.drop_fragments(
            cit.normalize_markers(cit.drop_header_dates(cit.drop_unfinished(raw), passages))
        ),
        question,
    )
    text, citations = cit.cite(cit.recite(raw, passages, question, lang), passages)
    if citations:  # "Le 10 février 2025, …" with a date the passages lack: drop the date
        cited = [passages[c.number - 1].prompt_text for c in citations]
        trimmed = cit.drop_invented_lead_date(text, cited, question)
        if trimmed != text:
            text, citations = cit.cite(cit.recite(trimmed, passages, question, lang), passages)
    if not citations:
        return text, [], checks.NO_CITATION.withheld()
    # as the model saw them: a date resolved at ingest ("jeudi (7 novembre 2024)") supports
    cited = [passages[c.number - 1].prompt_text for c in citations]
    a = settings.answer
    return text, citations, Draft(question, lang, text, cited, a.min_key_support)


def verify(llm: LLM, prompts_dir: Path, question: str, answer: str, cited: list[str]) -> bool:
    """Ask the model whether the cited passages state the answer (a yes/no entailment check).

    The small model invents answers when the passages lack them; judging a short claim
    against a passage is an easier task for it than answering, and costs one short prefill.
    """
    passage = "\n\n".join(without_orders(text) for text in cited)
    prompt = render(
        prompts_dir,
        "verify",
        passage=passage,
        question=question,
        answer=cit.MARKER.sub("", answer).strip(),
    )
    reply = (
        "".join(llm.complete([{"role": "user", "content": prompt}], 3, "verify")).strip().upper()
    )
    return not reply.startswith("NO")


def abstain(
    question: str,
    lang: str,
    passages: list[Passage],
    timings: Timings,
    standalone: str,
    draft: str = "",
    withheld: str = "",
) -> Answer:
    """The abstention (`ABSTAIN` in the question's language), with the passages it had."""
    return Answer(
        question=question,
        text=ABSTAIN[lang],
        abstained=True,
        citations=(),
        passages=tuple(passages),
        timings=timings,
        standalone_question=if_changed(standalone, question),
        language=lang,
        draft=draft,
        withheld=withheld,
    )


def if_changed(standalone: str, question: str) -> str | None:
    """The standalone question the follow-up rewrite gave, None if it is the question itself."""
    return standalone if standalone != question else None
