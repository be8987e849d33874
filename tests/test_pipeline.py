import pytest

from rag.core.errors import InputError
from rag.core.settings import Settings
from rag.core.types import Answer
from rag.pipeline import RAG
from rag.testing.fakes import FakeLLM


@pytest.fixture
def make_bot(settings):
    """A bot over the seeds with the hashing embedder and a scripted model."""
    RAG(settings).ingest(progress=False)

    def make(script=None, rewrite=None, choice=None, **overrides) -> RAG:
        return RAG(
            settings.updated(**overrides),
            llm=FakeLLM(script, rewrite=rewrite, choice=choice),
        )

    return make


def passage_number(messages, needle: str) -> int:
    """The [n] of the first prompt passage containing `needle`."""
    blocks = messages[-1]["content"].split("\n\n[")
    for block in blocks:
        if needle in block:
            return int(block.lstrip("[").split("]")[0])
    raise AssertionError(f"{needle!r} not in the prompt")


def test_cited_answer_with_verbatim_quote(make_bot):
    def script(messages):
        return f"Marc Fogel a été remis en liberté [{passage_number(messages, 'Marc Fogel')}]."

    answer = make_bot(script).ask("Quel Américain détenu en Russie a été remis en liberté ?")
    assert not answer.abstained
    assert [c.source for c in answer.citations] == ["003_17ab84beb0fc2423.txt"]
    assert "Marc Fogel" in answer.citations[0].quote
    assert answer.citations[0].quote in answer.passages[answer.citations[0].number - 1].text
    assert answer.timings.total_s >= answer.timings.first_token_s >= answer.timings.retrieval_s > 0


def test_stream_yields_tokens_then_the_answer_then_its_short_answer(make_bot):
    items = list(make_bot().stream("Que dit le Kremlin sur l'appel de Trump ?"))
    assert all(isinstance(i, str) for i in items[:-2]) and len(items) > 3
    checked, shortened = items[-2:]
    assert isinstance(checked, Answer) and checked.citations and checked.short is None
    assert (
        shortened.short
        and shortened.text == checked.text
        and shortened.citations == checked.citations
    )
    assert shortened.timings.total_s == checked.timings.total_s and shortened.timings.short_s > 0
    items = list(make_bot(short_answer=False).stream("Que dit le Kremlin sur l'appel de Trump ?"))
    assert (
        isinstance(items[-1], Answer)
        and not isinstance(items[-2], Answer)
        and items[-1].short is None
    )


def test_no_answer_abstains_without_citations_and_hides_tokens(make_bot):
    bot = make_bot(lambda m: "NO_ANSWER")
    items = list(bot.stream("Quelle était la météo à Moscou pendant l'appel ?"))
    assert len(items) == 1
    assert items[0].abstained and items[0].citations == ()
    assert items[0].text == "Les articles ne le disent pas."


def test_english_abstention_is_in_english(make_bot):
    answer = make_bot(lambda m: "NO_ANSWER").ask("What was the weather in Moscow during the call?")
    assert answer.abstained and answer.text == "The articles don't say."


def test_low_retrieval_score_abstains_without_calling_the_model(make_bot):
    bot = make_bot(min_dense_score=0.99)
    answer = bot.ask("Quel temps fait-il à Tokyo ?")
    assert answer.abstained and bot.llm.calls == []


def test_invented_answer_is_withdrawn(make_bot):
    answer = make_bot(lambda m: "L'appel a eu lieu à 15 h 42 précises depuis Genève [1].").ask(
        "À quelle heure a eu lieu l'appel entre Trump et Poutine ?"
    )
    assert answer.abstained and answer.citations == ()


def test_citation_to_a_passage_that_does_not_exist_is_dropped(make_bot):
    def script(messages):
        return f"Marc Fogel a été remis en liberté [{passage_number(messages, 'Marc Fogel')}] [9]."

    answer = make_bot(script).ask("Marc Fogel a-t-il été libéré ?")
    assert "[9]" not in answer.text
    assert {c.number for c in answer.citations} <= set(range(1, 6))


def test_uncited_but_supported_answer_gets_its_citation(make_bot):
    answer = make_bot(lambda m: "Marc Fogel a été remis en liberté.").ask(
        "Qui a été remis en liberté ?"
    )
    assert not answer.abstained
    assert answer.citations and answer.citations[0].source == "003_17ab84beb0fc2423.txt"


def test_follow_up_is_rewritten_with_the_history(make_bot):
    seen = []

    def rewrite(messages):
        seen.append(messages[-1]["content"])
        return "Combien d'heures a duré l'entretien de février 2025 entre Trump et Poutine ?"

    def script(messages):
        return f"Une heure et demie [{passage_number(messages, 'heure et demie')}]."

    history = [
        {"role": "user", "content": "Quand Trump et Poutine se sont-ils parlé en février 2025 ?"},
        {"role": "assistant", "content": "Un mercredi [1]."},
    ]
    # top_k=10: the hashing fake is a weak retriever; this test is about the rewrite.
    answer = make_bot(script, rewrite, top_k=10).ask(
        "Et combien de temps a-t-il duré ?", history=history
    )
    assert "février 2025" in seen[0] and "Et combien de temps" in seen[0]
    assert answer.standalone_question.startswith("Combien d'heures a duré l'entretien de février")
    assert answer.citations[0].source == "003_17ab84beb0fc2423.txt"
    assert "heure et demie" in answer.citations[0].quote


@pytest.mark.parametrize("question", ["", "   \n\t", "\x00\x01"])
def test_empty_question_is_refused(make_bot, question):
    with pytest.raises(InputError, match="empty"):
        make_bot().ask(question)


def test_huge_question_is_refused(make_bot):
    with pytest.raises(InputError, match="limit is 2,000"):
        make_bot().ask("Trump " * 2_000_000)


def test_prompt_passages_carry_source_and_date(make_bot):
    bot = make_bot()
    answer = bot.ask("Marc Fogel a-t-il été remis en liberté ?")
    prompt = next(c[-1]["content"] for c in bot.llm.calls if "Passages:" in c[-1]["content"])
    assert "(source: 003_17ab84beb0fc2423.txt, date: 2025-02)" in prompt
    for p in answer.passages:
        assert f"(source: {p.source}, date: {p.date or 'unknown'})" in prompt


@pytest.mark.parametrize(
    "question, hint",
    [
        (
            "Quel jour de la semaine Trump a-t-il parlé à Poutine ?",
            "demande un jour de la semaine, pas une date",
        ),
        ("On what day of the week did Trump call Putin?", "asks for a day of the week, not a date"),
        ("Quand Trump a-t-il parlé à Poutine ?", None),
    ],
)
def test_a_weekday_question_tells_the_model_what_is_asked(make_bot, question, hint):
    bot = make_bot()
    bot.ask(question)
    prompt = next(c[-1]["content"] for c in bot.llm.calls if "Passages:" in c[-1]["content"])
    last = prompt.rstrip().splitlines()[-1]  # the hint follows the "Answer (…):" line
    if hint:
        assert hint in last
    else:
        assert last.startswith("Answer (")


@pytest.mark.parametrize("choice, day", [("Mercredi [{}]", "Mercredi"), ("NO_ANSWER", None)])
def test_a_weekday_question_answered_with_a_date_is_asked_to_choose_a_day_the_passages_write(
    make_bot, choice, day
):
    asked = []

    def choose(messages):
        asked.append(messages)
        return choice.format(passage_number(messages, "a annoncé mercredi"))

    date = lambda m: f"Le 12 février 2025 [{passage_number(m, 'a annoncé mercredi')}]."  # noqa: E731
    bot = make_bot(date, choice=choose, short_answer=False, retry_withheld=False)
    answer = bot.ask(
        "Quel jour de la semaine Donald Trump a-t-il annoncé sur Truth Social son appel avec Poutine ?"
    )
    assert len(asked) == 1 and asked[0] == bot.llm.calls[0]  # the answer's own prompt
    if day is None:  # the model prefers no day: the date stays, and is withheld
        assert answer.abstained and answer.draft.startswith("Le 12 février")
        return
    assert not answer.abstained and answer.text.startswith(day)
    assert [c.source for c in answer.citations] == ["003_17ab84beb0fc2423.txt"]
    assert "mercredi" in answer.citations[0].quote.lower()
    assert (
        not make_bot(
            lambda m: "Mercredi [1].", choice=choose, short_answer=False, retry_withheld=False
        )
        .ask("Quel jour de la semaine Trump a-t-il appelé ?")
        .abstained
    )
    assert len(asked) == 1  # a draft that names a day is not asked again


FOGEL = "Quel Américain détenu en Russie a été remis en liberté ?"


def answer_prompts(bot) -> list[list[dict]]:
    return [c for c in bot.llm.calls if "Passages:" in c[-1]["content"]]


@pytest.mark.parametrize("second", ["right", "wrong"])
def test_a_withheld_draft_gets_a_second_look_with_the_passages_reversed(make_bot, second):
    drafts = []

    def script(messages):
        n = passage_number(messages, "Marc Fogel")
        if not drafts or second == "wrong":  # a number no passage has: withheld ("number")
            drafts.append(f"Marc Fogel a été remis en liberté après 37 jours [{n}].")
        else:
            drafts.append(f"Marc Fogel a été remis en liberté [{n}].")
        return drafts[-1]

    bot = make_bot(script, short_answer=False)
    answer = bot.ask(FOGEL)
    first, again = answer_prompts(bot)
    shown = len(answer.passages)
    assert shown > 1 and passage_number(again, "Marc Fogel") == shown + 1 - passage_number(
        first, "Marc Fogel"
    )
    if second == "wrong":  # both withheld: the first draft and its reason stand
        assert answer.abstained and answer.withheld == "number" and answer.draft == drafts[0]
        return
    assert not answer.abstained and answer.text.startswith("Marc Fogel a été remis en liberté [")
    # marked, and counted as disagreeing with the first draft
    assert answer.second_look and answer.signals.agreement == 0.0
    assert answer.draft == drafts[1] and [c.source for c in answer.citations] == [
        "003_17ab84beb0fc2423.txt"
    ]
    assert (
        "Marc Fogel" in answer.passages[answer.citations[0].number - 1].text
    )  # numbered as the second prompt showed them
    assert answer.timings.total_s >= answer.timings.first_token_s > 0


def test_no_second_look_when_the_model_found_no_answer_or_it_is_off(make_bot):
    bot = make_bot(lambda m: "NO_ANSWER")
    assert bot.ask(FOGEL).abstained and len(answer_prompts(bot)) == 1
    bot = make_bot(
        lambda m: (
            f"Marc Fogel a été remis en liberté après 37 jours [{passage_number(m, 'Marc Fogel')}]."
        ),
        retry_withheld=False,
    )
    assert bot.ask(FOGEL).withheld == "number" and len(answer_prompts(bot)) == 1


def test_a_question_restated_around_a_date_is_withheld(make_bot):
    # no rule of its own: the question's words are not around the date (focus) and its outlet is
    # not in the cited passage (premise), so the confidence falls below the default threshold
    reply = "Le journaliste du New York Post a interrogé Trump mercredi [{}]."
    default = Settings().answer.min_confidence
    bot = make_bot(lambda m: reply.format(passage_number(m, "mercredi")), min_confidence=default)
    answer = bot.ask(
        "Quel journaliste du New York Post a interrogé Trump sur son appel avec Poutine ?"
    )
    assert answer.abstained and answer.citations == ()
    assert answer.withheld in ("low-confidence", "premise")
    kept = make_bot(lambda m: reply.format(passage_number(m, "mercredi")), min_confidence=0.0)
    assert not kept.ask(
        "Quel journaliste du New York Post a interrogé Trump sur son appel avec Poutine ?"
    ).abstained  # no rule withholds it: without the threshold, it is given


def test_invented_place_is_withheld_without_asking_the_model(make_bot):
    bot = make_bot(lambda m: "Le sommet reporté devait se tenir à Genève en Suisse [1].")
    answer = bot.ask("Où devait se tenir le sommet reporté entre Trump et Poutine ?")
    assert answer.abstained and answer.citations == ()
    assert answer.draft.startswith("Le sommet reporté devait se tenir à Genève")
    assert "verify" not in bot.llm.tasks  # verify is off: the model was not asked to confirm


def test_answer_that_restates_the_question_is_withheld(make_bot):
    bot = make_bot(lambda m: "Le sommet entre Trump et Poutine a été reporté [1].")
    answer = bot.ask("Où devait se tenir le sommet reporté entre Trump et Poutine ?")
    assert answer.abstained and answer.citations == ()


def test_wrong_passage_number_is_repointed_at_the_supporting_passage(make_bot):
    def script(messages):
        wrong = next(n for n in range(1, 6) if n != passage_number(messages, "Marc Fogel"))
        return f"Marc Fogel a été libéré [{wrong}]."

    answer = make_bot(script).ask("Quel Américain détenu en Russie a été libéré ?")
    assert not answer.abstained
    assert "Marc Fogel" in answer.citations[0].quote
    assert "Marc Fogel" in answer.passages[answer.citations[0].number - 1].text


def test_verification_when_enabled_asks_the_model_and_follows_its_verdict(settings, make_bot):
    question = "Quel Américain détenu en Russie a été libéré ?"
    assert not make_bot(verify=True).ask(question).abstained  # the fake confirms by overlap
    says_no = FakeLLM(
        verdict=lambda messages: "NO"
    )  # answers extractively, rejects every verification
    bot = RAG(settings.updated(verify=True), llm=says_no)
    answer = bot.ask(question)
    assert answer.abstained and answer.draft
    assert bot.llm.tasks == ["answer", "verify"]
    assert "YES or NO" in bot.llm.calls[1][-1]["content"]  # the verify template was what it got


def test_an_answer_joining_two_passages_cites_both(make_bot):
    def script(messages):
        n = passage_number(messages, "Peskov")
        return f"Le New York Post a révélé la conversation, selon Dmitri Peskov, porte-parole du Kremlin [{n}]."

    answer = make_bot(script).ask(
        "Quel journal a révélé la conversation sur la fin de la guerre en Ukraine ?"
    )
    assert not answer.abstained and len(answer.citations) == 2
    quotes = " ".join(c.quote for c in answer.citations)
    assert "New York Post" in quotes and "Peskov" in quotes


def test_a_second_passage_does_not_rescue_an_answer_no_single_passage_supports(make_bot):
    # no passage holds half of the new words; two together would ("york", "post" + "dmitri",
    # "peskov" of six): the checks judge the model's own citation, before any is added
    def script(messages):
        n = passage_number(messages, "Peskov")
        return f"Le New York Post et Dmitri Peskov, selon Rupert Murdoch et Lachlan Murdoch [{n}]."

    answer = make_bot(script).ask(
        "Quel journal a révélé la conversation sur la fin de la guerre en Ukraine ?"
    )
    assert answer.abstained


class _Primable(FakeLLM):
    def __init__(self):
        super().__init__()
        self.primed: list[list[list[dict]]] = []

    def prime(self, conversations):
        self.primed.append(conversations)


def test_warm_with_prime_runs_the_model_once_on_each_languages_answer_prompt(settings):
    RAG(settings).ingest(progress=False)
    llm = _Primable()
    bot = RAG(settings, llm=llm)
    bot.warm()
    assert llm.primed == []  # a one-shot question (rag ask) does not pay for priming
    bot.warm(prime=True)
    bot.warm(prime=True)
    assert len(llm.primed) == 1
    fr, en = llm.primed[0]
    for conversation, language in ((fr, "French"), (en, "English")):
        assert conversation[0]["role"] == "system" and language in conversation[0]["content"]
        assert (
            conversation[0] == bot._messages("?", [], language[:2].lower())[0]
        )  # same cached prefix
        assert "Passages:" in conversation[1]["content"]
    assert len(fr[1]["content"]) > 2000  # long enough to exercise a real prompt's prefill
    bot.ask("Quel journal a révélé l'appel ?")
    assert len(llm.primed) == 1 and llm.calls  # answering does not prime again


def test_eval_primes_the_model_before_timing_answers(settings, tmp_path):
    from rag.evaluation.runner import run_eval

    RAG(settings).ingest(progress=False)
    events = []
    llm = _Primable()
    llm.prime = lambda conversations: events.append("prime")
    ask = FakeLLM.stream
    llm.stream = lambda messages, n=160: (events.append("answer"), ask(llm, messages, n))[1]
    case = {
        "id": "c1",
        "question": "Quel journal a révélé l'appel ?",
        "answers": ["Post"],
        "sources": [],
    }
    run_eval(
        RAG(settings, llm=llm), [case, {**case, "id": "c2"}], tmp_path / "r.jsonl", progress=False
    )
    assert [e for e in events if e == "prime"] == ["prime"] and events[
        0
    ] == "prime"  # then answers, short answers
    quiet = _Primable()
    run_eval(
        RAG(settings, llm=quiet), [case], tmp_path / "r2.jsonl", retrieval_only=True, progress=False
    )
    assert quiet.primed == []  # no model needed, none primed
