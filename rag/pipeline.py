"""The product: `RAG` ties sources, index, retrieval, the model and citations together.

bot = RAG()                       # seeds/, bundled models, local index .rag/
bot.ingest()                      # incremental
answer = bot.ask("Quel journal a révélé l'appel ?")
for piece in bot.stream("Who reported the call?"): ...   # str tokens, the Answer, it with .short
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rag.answer import checks, confidence, conflicts, weekday
from rag.answer import citations as cit
from rag.answer.checks import NO_ANSWER, Draft, Withheld, first_failure
from rag.answer.prompts import passage_blocks, render
from rag.answer.short import pick
from rag.answer.untrusted import without_orders
from rag.core.settings import Settings
from rag.core.types import Answer, Citation, IngestReport, Passage, Scope, Signals, Timings
from rag.text.language import ABSTAIN, NAMES, detect
from rag.text.question import check_question

if TYPE_CHECKING:  # loaded on first use (the models and the index are heavy)
    from rag.index.embed import Embedder
    from rag.llm.base import LLM, Message
    from rag.retrieve.retriever import Retriever

log = logging.getLogger(__name__)
REOPEN_WAIT = 60.0  # seconds a question waits for another process's ingest on an embedded folder
Turn = dict[str, str]  # {"role": "user" | "assistant", "content": str}


class RAG:
    """Question answering over a folder of articles. Models and the index open lazily."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._llm = llm
        self._embedder = embedder
        self._retriever: Retriever | None = None
        self._primed = False
        self._version = ""  # the index version the retriever was opened at (rag.index.version)
        self._checked = 0.0  # when refresh last looked at it (time.monotonic)
        self._reopening = threading.Lock()  # one thread reopens; the others then find it done

    # -- components, built on first use -------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from rag.index.embed import build_embedder

            self._embedder = build_embedder(self.settings)
        return self._embedder

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from rag.llm.registry import build_llm

            self._llm = build_llm(self.settings)
        return self._llm

    @property
    def retriever(self) -> Retriever:
        retriever = self._retriever
        if retriever is None:
            retriever = self._open()
        return retriever

    def _open(self) -> Retriever:
        """Open the index: store, version (read before the chunks), retriever; assigned at once,
        so a thread answering meanwhile keeps the retriever it had."""
        from rag.index.store import Store
        from rag.index.version import read_version
        from rag.retrieve.retriever import Retriever

        store = Store(self.settings, self.embedder.id)
        version = read_version(store)
        retriever = Retriever(self.settings, self.embedder, store)
        self._retriever, self._version, self._checked = retriever, version, time.monotonic()
        return retriever

    def refresh(self, force: bool = False) -> bool:
        """Reopen the index if another process changed it since it was opened; True if reopened.

        Looks at most every `index_refresh_s` seconds (one small read of the version the ingests
        write last), and reopens only between ingests (with the ingest lock), so a half-written
        ingest is never served. With a Chroma server the retriever opened before keeps serving
        its complete state meanwhile; an embedded folder cannot (a client's cached vectors no
        longer match the records another process wrote), so there the question waits for the
        running ingest to finish, up to REOPEN_WAIT seconds.
        """
        from rag.index.version import read_version

        now, retriever = time.monotonic(), self._retriever
        if retriever is None or (
            not force and now - self._checked < self.settings.app.index_refresh_s
        ):
            return False
        self._checked = now
        if read_version(retriever.store) == self._version:
            return False
        return self._reopen(wait=0.0 if self.settings.server.chroma_host else REOPEN_WAIT)

    def _reopen(self, wait: float) -> bool:
        from rag.core.errors import IndexStateError
        from rag.index.lock import ingest_lock
        from rag.index.version import forget_client

        seen = self._version
        try:
            with self._reopening, ingest_lock(self.settings, wait=wait):
                if self._version != seen:  # another thread reopened it meanwhile
                    return True
                if self._retriever is not None:
                    forget_client(self._retriever.store)
                self._open()
        except IndexStateError as exc:
            if not self.settings.server.chroma_host:
                raise IndexStateError(
                    f"another process is changing the index ({exc}) — "
                    "ask again when its ingest has finished"
                ) from None
            log.info("index not reopened yet: %s", exc)  # the server's old state stays consistent
            return False
        log.info("index reopened: another process changed it")
        return True

    def _search(
        self, question: str, top_k: int | None = None, scope: Scope | None = None
    ) -> list[Passage]:
        from rag.index.store import StaleIndexError

        try:
            return self.retriever.search(question, top_k, scope=scope)
        except StaleIndexError:  # written by another process before its version was: wait, reopen
            self._reopen(wait=REOPEN_WAIT)
            return self.retriever.search(question, top_k, scope=scope)

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

    # -- indexing -------------------------------------------------------------------------
    def ingest(
        self,
        sources: Sequence[Path | str] | None = None,
        rebuild: bool = False,
        progress: bool = True,
        wait: float | None = None,
    ) -> IngestReport:
        """Bring the index in line with the sources (default: settings.index.sources); `wait`:
        seconds
        to wait for another ingest (default settings.index.ingest_wait)."""
        from rag.index.ingest import load_sources
        from rag.index.lock import ingest_lock
        from rag.index.store import Store, drop_collection
        from rag.index.sync import sync
        from rag.index.version import write_version

        paths = [Path(p) for p in (sources or self.settings.index.sources)]
        fields = {str(k): v for k, v in self.settings.index.record_fields.items()}
        loaded = load_sources(paths, self.settings.index.max_file_bytes, fields)
        with ingest_lock(self.settings, wait=wait):
            if rebuild:
                drop_collection(self.settings)
            store = Store(self.settings, self.embedder.id, create=True)
            report = sync(self.settings, self.embedder, store, loaded, progress=progress)
            if rebuild or report.added or report.updated or report.removed:
                write_version(store)  # last, under the lock: readers see finished ingests only
        self._retriever = None
        return report

    def documents(self) -> list[dict]:
        """The indexed documents: id, title, date, published, outlet, url, author, chunks (their
        number); None where unknown (`published` falls back to the date the text gave)."""
        self.refresh()
        docs: dict[str, dict] = {}
        for c in self.retriever.chunks.values():
            d = docs.setdefault(c.doc_id, {"id": c.doc_id, "title": c.title, "date": c.published})
            d |= {"published": c.published, "outlet": c.outlet, "url": c.url, "author": c.author}
            d["chunks"] = d.get("chunks", 0) + 1
        return sorted(docs.values(), key=lambda d: d["id"])

    def outlets(self) -> list[str]:
        """The outlets named in the index, sorted: those a `Scope` can restrict a question to."""
        self.refresh()
        return self.retriever.outlets()

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
            timings = Timings(retrieval_s, None, total)
            yield self._abstain(
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
            timings = Timings(retrieval_s, first_token_s, time.perf_counter() - start)
            said = Answer(
                question,
                text,
                False,
                tuple(citations),
                tuple(passages),
                timings,
                _if_changed(standalone, question),
                lang,
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
        retried = False
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
                answer, retried = (answer, False) if second.abstained else (second, True)
        timings = Timings(retrieval_s, first_token_s, time.perf_counter() - start)
        answer = replace(answer, timings=timings)
        if answer.abstained:
            yield answer
            return
        if self.settings.answer.short_answer:
            yield answer  # checked: a caller can show its sources while the short answer comes
            answer = self.shorten(answer)
        # a second draft that passed: the first, from the passages in the other order, did not
        yield confidence.judge(
            answer, self.settings.answer, self._agreement, 0.0 if retried else None
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

    def _messages(self, question: str, passages: list[Passage], lang: str) -> list[dict]:
        blocks = passage_blocks(passages)
        system = render(self.settings.answer.prompts_dir, "system", language=NAMES[lang])
        user = render(
            self.settings.answer.prompts_dir,
            "answer",
            passages=blocks,
            question=question,
            language=NAMES[lang],
        )
        if any(kind == cit.WEEKDAY for kind, _ in cit.asked_kinds(question)):
            # Told what is asked, this model gives a weekday rather than a date more often
            # (measured: docs/results/2026-11-22-citations-and-checks.md).
            user += "\n" + render(self.settings.answer.prompts_dir, f"weekday.{lang}")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

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
            return self._abstain(
                question, lang, passages, Timings(), standalone, raw, withheld.code
            )
        return Answer(
            question,
            text,
            False,
            tuple(citations),
            tuple(passages),
            Timings(),
            _if_changed(standalone, question),
            lang,
            raw,
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

    def check(
        self, question: str, lang: str, raw: str, passages: list[Passage]
    ) -> tuple[str, list[Citation], Withheld | Literal[""]]:
        """The model's reply, cited and checked: (text, citations, `Withheld` reason or "").

        The rules, their order and their reason codes are in rag.answer.checks. Between the reply
        rules and the others the reply is cited: one-word trailing fragments and sentences that only
        echo the question and an article date copied from a passage header dropped
        (`cit.drop_fragments`, `cit.drop_restated`, `cit.drop_header_dates`), citations re-pointed
        at the passage that supports each sentence best (`cit.recite`) and kept only when they name
        a retrieved passage, and a leading date the cited passages lack cut off (this model opens
        with invented dates). An answer that passes gets, for each sentence, the passages holding
        new facts its own citations lack (`cit.complete_citations`).
        """
        raw = raw.strip()
        failed = first_failure(checks.REPLY, raw, {p.source for p in passages})
        if failed:
            return raw, [], failed
        raw = cit.drop_restated(
            cit.drop_fragments(cit.normalize_markers(cit.drop_header_dates(raw, passages))),
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
        s = self.settings
        failed = first_failure(
            checks.RULES,
            Draft(question, lang, text, cited, s.answer.min_key_support, s.answer.min_support),
        )
        if failed:
            return text, citations, failed
        if s.advanced.verify and not self.verify(question, text, cited):
            return text, citations, checks.UNCONFIRMED.withheld()
        completed = cit.complete_citations(text, passages, question, lang)
        if completed != text:
            text, citations = cit.cite(completed, passages)
        return text, citations, ""

    def verify(self, question: str, answer: str, cited: list[str]) -> bool:
        """Ask the model whether the cited passages state the answer (a yes/no entailment check).

        The small model invents answers when the passages lack them; judging a short claim
        against a passage is an easier task for it than answering, and costs one short prefill.
        """
        passage = "\n\n".join(without_orders(text) for text in cited)
        prompt = render(
            self.settings.answer.prompts_dir,
            "verify",
            passage=passage,
            question=question,
            answer=cit.MARKER.sub("", answer).strip(),
        )
        reply = (
            "".join(self.llm.complete([{"role": "user", "content": prompt}], 3, "verify"))
            .strip()
            .upper()
        )
        return not reply.startswith("NO")

    def _abstain(
        self,
        question: str,
        lang: str,
        passages: list[Passage],
        timings: Timings,
        standalone: str,
        draft: str = "",
        withheld: str = "",
    ) -> Answer:
        return Answer(
            question,
            ABSTAIN[lang],
            True,
            (),
            tuple(passages),
            timings,
            _if_changed(standalone, question),
            lang,
            draft,
            withheld,
        )


_FILLER = (  # neutral text for warm(prime=True): about 600 tokens in French, 60 in English
    "Ce passage sert seulement à préparer le modèle avant la première question. " * 40,
    "This passage only prepares the model before the first question. " * 6,
)
_PRIMER = {
    lang: (
        "Préparation ?" if lang == "fr" else "Warm-up?",
        [Passage("warm-up", "warm-up:0", 0.0, text, 1)],
    )
    for lang, text in zip(("fr", "en"), _FILLER, strict=True)
}


def _if_changed(standalone: str, question: str) -> str | None:
    return standalone if standalone != question else None
