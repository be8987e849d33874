"""The product: `RAG` ties sources, index, retrieval, the model and citations together.

bot = RAG()                       # seeds/, bundled models, local index .rag/
bot.ingest()                      # incremental
answer = bot.ask("Quel journal a révélé l'appel ?")
for piece in bot.stream("Who reported the call?"): ...   # str tokens, the Answer, it with .short
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from rag.answer import checks, confidence, conflicts, weekday
from rag.answer.checks import NO_ANSWER, Withheld, first_failure
from rag.answer.prompts import render
from rag.answer.short import pick
from rag.core.settings import Settings
from rag.core.types import Answer, Citation, Passage, Scope, Signals, Timings
from rag.pipeline import reply
from rag.pipeline.library import Library
from rag.text.language import NAMES, detect
from rag.text.question import check_question

if TYPE_CHECKING:  # loaded on first use (the models and the index are heavy)
    from rag.index.embed import Embedder
    from rag.llm.base import LLM, Message

log = logging.getLogger(__name__)
Turn = dict[str, str]  # {"role": "user" | "assistant", "content": str}


class RAG(Library):
    """Question answering over a folder of articles. Models and the index open lazily (the
    index, its refresh and `ingest`: rag.pipeline.library)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        super().__init__(settings or Settings(), embedder)
        self._llm = llm
        self._primed = False

    # -- the model, built on first use --------------------------------------------------
    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from rag.llm.registry import build_llm

            self._llm = build_llm(self.settings)
        return self._llm

    def warm(self, prime: bool = False) -> None:
        """Open the index and load the models now rather than on the first question.

        With `prime`, also run the model once on a prompt of the answer's shape in each language
        (for a long-lived app, chat or eval): its system prompts' KV caches get computed and the
        first long prompt's one-off costs paid (the first answer of a fresh process otherwise
        took markedly longer to its first token; measured:
        docs/results/2026-11-22-decode-cache.md).
        """
        if self._retriever is None:
            self._open()
        self.llm.load()
        if prime and not self._primed:
            self.llm.prime([self._messages(*_PRIMER[lang], lang) for lang in NAMES])
            self._primed = True

    # -- asking ---------------------------------------------------------------------------
    def retrieve(
        self, question: str, top_k: int | None = None, *, scope: Scope | None = None
    ) -> list[Passage]:
        self.refresh()
        question = check_question(question, self.settings.answer.max_question_chars)
        return self._search(question, top_k, scope)

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        language: str | None = None,
        *,
        scope: Scope | None = None,
    ) -> Answer:
        """Answer a question (with the conversation so far); see `stream` for the tokens."""
        answer: Answer | None = None
        for item in self.stream(question, history, language, scope=scope):
            if isinstance(item, Answer):
                answer = item
        if answer is None:  # stream ends with its Answer, whatever happens: a bug otherwise
            raise RuntimeError(f"no answer came out of RAG.stream for {question!r}")
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        language: str | None = None,
        *,
        scope: Scope | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer tokens as the model writes them, then the final, checked `Answer`.

        The final answer's text is authoritative: it may differ from the streamed tokens when
        invalid citations were removed or the answer was withdrawn as unsupported. With
        `short_answer` on, an answer given is yielded twice: checked, then with `Answer.short`
        (one more short model call), so that a caller can show the sources meanwhile. A yes/no
        question on a report the passages also deny is answered without the model, with both
        accounts quoted (`Answer.conflict`, rag.answer.conflicts): its text, then its Answer,
        once, with no short answer. A weekday question drafted with a date is asked again,
        constrained to the passages' weekdays (rag.answer.weekday), before the checks; a draft
        the checks withhold gets one second look (`retry_withheld`). With a `scope`, only the
        articles it admits are searched (a date range and outlets: rag.retrieve.scope).
        """
        question = check_question(question, self.settings.answer.max_question_chars)
        self.refresh()
        self.warm()  # loading models is not part of answering: keep it out of the timings
        start = time.perf_counter()
        lang = language or detect(question)
        standalone = self.rewrite(question, history) if history else question
        passages = self._search(standalone, scope=scope)
        retrieval_s = time.perf_counter() - start
        best = max(
            (p.dense_score or 0.0 for p in passages), default=None
        )  # None: no passage at all
        off_topic = first_failure([checks.OFF_TOPIC], best, self.settings.answer.min_dense_score)
        if off_topic:
            total = time.perf_counter() - start
            timings = Timings(retrieval_s=retrieval_s, first_token_s=None, total_s=total)
            yield reply.abstain(
                question, lang, passages, timings, standalone, withheld=off_topic.code
            )
            return
        passages = self.in_prompt_order(passages)
        accounts: list[conflicts.Account] = []
        if self.settings.answer.conflicts:
            retriever = self.retriever
            accounts, with_denials = conflicts.find(
                standalone, passages, retriever.known, retriever.article
            )
        if accounts:
            # a yes/no question on a report the passages also deny: both accounts, quoted
            passages = with_denials
            text, citations = conflicts.say(accounts, lang)
            first_token_s: float | None = time.perf_counter() - start
            yield text
            timings = Timings(
                retrieval_s=retrieval_s,
                first_token_s=first_token_s,
                total_s=time.perf_counter() - start,
            )
            said = Answer(
                question=question,
                text=text,
                abstained=False,
                citations=tuple(citations),
                passages=tuple(passages),
                timings=timings,
                standalone_question=reply.if_changed(standalone, question),
                language=lang,
                conflict=True,
            )  # the accounts' own sentences: no model probability, no second draft to compare
            yield confidence.judge(said, self.settings.answer, lambda answer: None)
            return
        messages = self._messages(standalone, passages, lang)
        pieces: list[str] = []
        first_token_s = None
        hidden = True  # hold tokens back while the reply could still be NO_ANSWER
        for piece in self.llm.complete(messages, self.settings.generation.max_new_tokens):
            if first_token_s is None:
                first_token_s = time.perf_counter() - start
            pieces.append(piece)
            if not hidden:
                yield piece
                continue
            so_far = "".join(pieces).lstrip()
            if NO_ANSWER.startswith(so_far) or so_far.startswith(NO_ANSWER):
                continue
            hidden = False
            yield so_far
        answer = self._draft(question, standalone, lang, "".join(pieces), passages, messages)
        if (
            answer.abstained
            and answer.withheld in checks.SECOND_LOOK
            and self.settings.answer.retry_withheld
        ):
            again = passages[
                ::-1
            ]  # it often took a neighbouring passage's fact: read them reversed
            if len(passages) > 1:
                messages = self._messages(standalone, again, lang)
                raw = "".join(self.llm.complete(messages, self.settings.generation.max_new_tokens))
                second = self._draft(question, standalone, lang, raw, again, messages)
                if not second.abstained:
                    answer = replace(second, second_look=True)
        timings = Timings(
            retrieval_s=retrieval_s,
            first_token_s=first_token_s,
            total_s=time.perf_counter() - start,
        )
        answer = replace(answer, timings=timings)
        if answer.abstained:
            yield answer
            return
        if self.settings.answer.short_answer:
            yield answer  # checked: a caller can show its sources while the short answer comes
            answer = self.shorten(answer)
        # a second look's draft disagrees with the first, which the checks withheld; not counting
        # it answers more, and more unanswerable questions too (2026-12-07-selective-piaf.md)
        yield confidence.judge(
            answer, self.settings.answer, self._agreement, 0.0 if answer.second_look else None
        )

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        """A follow-up ("Et combien de temps ?") as a standalone question, using the history."""
        lines = [f"{t['role']}: {' '.join(t['content'].split())[:500]}" for t in history[-6:]]
        prompt = render(
            self.settings.answer.prompts_dir, "rewrite", history="\n".join(lines), question=question
        )
        text = "".join(
            self.llm.complete([{"role": "user", "content": prompt}], 64, "rewrite")
        ).strip()
        text = text.splitlines()[0].strip().strip('"«» ') if text else ""
        return text if 3 <= len(text) <= 400 else question

    def in_prompt_order(self, passages: list[Passage]) -> list[Passage]:
        """The passages in the order the prompt shows (and numbers) them: `passage_order`."""
        return (
            sorted(passages, key=lambda p: p.place)
            if self.settings.advanced.passage_order == "document"
            else passages
        )

    def _draft(
        self,
        question: str,
        standalone: str,
        lang: str,
        raw: str,
        passages: list[Passage],
        messages: list[Message],
    ) -> Answer:
        """The reply, its weekday chosen if a weekday question got a date, cited and checked
        (without timings: the caller sets them once the answer is final)."""
        if weekday.needs_choice(standalone, raw):
            raw = weekday.choose(self.llm, messages, passages, standalone, self.embedder) or raw
        text, citations, withheld = self.check(standalone, lang, raw, passages)
        if withheld:
            return reply.abstain(
                question, lang, passages, Timings(), standalone, raw, withheld.code
            )
        return Answer(
            question=question,
            text=text,
            abstained=False,
            citations=tuple(citations),
            passages=tuple(passages),
            timings=Timings(),
            standalone_question=reply.if_changed(standalone, question),
            language=lang,
            draft=raw,
        )

    def shorten(self, answer: Answer) -> Answer:
        """The answer with its short answer (`Answer.short`): the words of its cited quotes that
        answer the question, chosen by the model under constrained decoding (rag.answer.short).
        Its time is `timings.short_s` (after the streamed answer: first token and total_s are the
        answer's). A failure leaves the answer as it was, without a short answer."""
        if answer.abstained or not answer.citations:
            return answer
        begun = time.perf_counter()
        question = answer.standalone_question or answer.question
        try:
            short = pick(
                self.llm,
                self.settings.answer.prompts_dir,
                question,
                [c.quote for c in answer.citations],
                answer.text,
            )
        except Exception:  # the short answer is optional: whatever fails, the checked answer stands
            log.warning("short answer failed", exc_info=True)
            return answer
        return replace(
            answer,
            short=short.text,
            signals=Signals(chosen=short.chosen, no_answer=short.no_answer),
            timings=replace(answer.timings, short_s=time.perf_counter() - begun),
        )

    def _agreement(self, answer: Answer) -> float | None:
        """1.0 when the draft from the answer's passages in reverse order passes the checks and
        says the same (`confidence.agrees`), else 0.0; None with a single passage. One more
        answer, asked by `confidence.judge` below `agreement_below`."""
        passages = list(answer.passages)[::-1]
        if len(passages) < 2:
            return None
        standalone = answer.standalone_question or answer.question
        messages = self._messages(standalone, passages, answer.language)
        raw = "".join(self.llm.complete(messages, self.settings.generation.max_new_tokens))
        second = self._draft(answer.question, standalone, answer.language, raw, passages, messages)
        return float(
            not second.abstained and confidence.agrees(answer.text, second.text, answer.short)
        )

    def _messages(self, question: str, passages: list[Passage], lang: str) -> list[dict]:
        return reply.messages(self.settings.answer.prompts_dir, question, passages, lang)

    def check(
        self, question: str, lang: str, raw: str, passages: list[Passage]
    ) -> tuple[str, list[Citation], Withheld | Literal[""]]:
        """The model's reply, cited and checked: (text, citations, `Withheld` reason or "");
        the steps are rag.pipeline.reply.check's, the rules rag.answer.checks'."""
        return reply.check(self.settings, question, lang, raw, passages, self.verify)

    def verify(self, question: str, answer: str, cited: list[str]) -> bool:
        """Ask the model whether the cited passages state the answer (a yes/no entailment check).

        The small model invents answers when the passages lack them; judging a short claim
        against a passage is an easier task for it than answering, and costs one short prefill.
        """
        return reply.verify(self.llm, self.settings.answer.prompts_dir, question, answer, cited)


_FILLER = (  # neutral text for warm(prime=True): about 600 tokens in French, 60 in English
    "Ce passage sert seulement à préparer le modèle avant la première question. " * 40,
    "This passage only prepares the model before the first question. " * 6,
)
_PRIMER = {
    lang: (
        "Préparation ?" if lang == "fr" else "Warm-up?",
        [Passage(source="warm-up", chunk_id="warm-up:0", score=0.0, text=text, rank=1)],
    )
    for lang, text in zip(("fr", "en"), _FILLER, strict=True)
}
