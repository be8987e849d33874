import json

import pytest

from rag.core.errors import InputError
from rag.core.types import Answer, Chunk, Citation, Passage, Timings
from rag.evaluation.runner import (
    add_passages,
    add_semantic_similarity,
    load_results,
    load_testset,
    run_eval,
)

CASES = [
    {
        "id": "q1",
        "question": "Qui a envahi l'Ukraine ?",
        "answers": ["la Russie"],
        "sources": ["d1"],
        "lang": "fr",
        "type": "fact",
        "title": "Guerre",
    },
    {
        "id": "q2",
        "question": "Qui préside la France ?",
        "answers": ["Emmanuel Macron"],
        "sources": ["d2"],
        "lang": "fr",
    },
    {
        "id": "q3",
        "question": "Quel temps fera-t-il sur Mars demain ?",
        "answers": [],
        "sources": [],
        "type": "unanswerable",
    },
]

RESULT_KEYS = {
    "id",
    "question",
    "answer",
    "abstained",
    "citations",
    "cited_sources",
    "retrieved_sources",
    "retrieval_s",
    "ttft_s",
    "total_s",
    "short_s",
    "draft",
    "confidence",
    "signals",
    "confidence_s",
    "passages",
    "short",
    "conflict",
    "second_look",
    "withheld",
    "expected",
    "gold_sources",
    "type",
    "lang",
}


def write_jsonl(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def passage(source, rank, index=0):
    return Passage(
        source=source, chunk_id=f"{source}:{index}", score=1 / rank, text="...", rank=rank
    )


def answer(question, text, abstained, cited, retrieved, total):
    citations = tuple(
        Citation(source=s, chunk_id=f"{s}:0", quote=f"quote from {s}", number=i)
        for i, s in enumerate(cited, start=1)
    )
    passages = tuple(passage(s, r) for r, s in enumerate(retrieved, start=1))
    timings = Timings(retrieval_s=total / 100, first_token_s=total / 10, total_s=total)
    return Answer(
        question=question,
        text=text,
        abstained=abstained,
        citations=citations,
        passages=passages,
        timings=timings,
    )


class FakeBot:
    """Scripted answers keyed by question; records which method was called."""

    def __init__(self):
        q1, q2, q3 = (c["question"] for c in CASES)
        self.answers = {
            # cited twice from d1: cited_sources must be unique
            q1: answer(q1, "La Russie [1][2].", False, ["d1", "d1"], ["d1", "d1", "d3"], 1.0),
            q2: answer(q2, "Macron [1].", False, ["d3"], ["d3", "d2"], 2.0),
            q3: answer(q3, "Je ne sais pas.", True, [], ["d1"], 3.0),
        }
        self.calls = []

    def ask(self, question):
        self.calls.append(("ask", question))
        return self.answers[question]

    def retrieve(self, question):
        self.calls.append(("retrieve", question))
        return list(self.answers[question].passages)


@pytest.fixture
def testset(tmp_path):
    return write_jsonl(tmp_path / "cases.jsonl", [json.dumps(c, ensure_ascii=False) for c in CASES])


def read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_load_testset_keeps_extra_keys_and_skips_blank_lines(tmp_path):
    lines = [json.dumps(CASES[0], ensure_ascii=False), "", "   ", json.dumps(CASES[1])]
    cases = load_testset(write_jsonl(tmp_path / "cases.jsonl", lines))
    assert cases == CASES[:2]
    assert cases[0]["title"] == "Guerre"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"id": "q1", "question": "a", "answers": [], "sources": []}', "", "{broken"],
            r"cases\.jsonl:3: invalid JSON",
        ),
        (
            ['{"id": "q1", "question": "a", "answers": []}'],
            r"cases\.jsonl:1: missing key\(s\) sources",
        ),
        (
            [
                '{"id": "q1", "question": "a", "answers": [], "sources": []}',
                '{"id": "q2", "question": "b", "answers": [], "sources": []}',
                '{"id": "q1", "question": "c", "answers": [], "sources": []}',
            ],
            r"cases\.jsonl:3: duplicate id 'q1' \(first on line 1\)",
        ),
        (
            ['{"id": "q1", "question": "a", "answers": "Paris", "sources": []}'],
            r"cases\.jsonl:1: 'answers' must be a list of strings",
        ),
        (['["q1", "a"]'], r"cases\.jsonl:1: expected a JSON object"),
        (["", "  "], r"has no cases"),
    ],
)
def test_load_testset_errors(tmp_path, lines, message):
    with pytest.raises(InputError, match=message):
        load_testset(write_jsonl(tmp_path / "cases.jsonl", lines))


def test_load_testset_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read test set"):
        load_testset(tmp_path / "nope.jsonl")


def test_run_eval_writes_one_line_per_case_and_summarizes(tmp_path, testset):
    bot = FakeBot()
    out = tmp_path / "results" / "run.jsonl"
    summary = run_eval(bot, load_testset(testset), out, progress=False)

    assert [name for name, _ in bot.calls] == ["ask", "ask", "ask"]
    lines = read_lines(out)
    assert [line["id"] for line in lines] == ["q1", "q2", "q3"]
    for line in lines:
        assert set(line) == RESULT_KEYS
    shown = lines[0].pop("passages")  # the passages as the model saw them, in its order
    assert [(p["chunk_id"], p["text"]) for p in shown] == [
        (p.chunk_id, p.text) for p in bot.ask("Qui a envahi l'Ukraine ?").passages
    ]
    assert shown and set(shown[0]) >= {"source", "chunk_id", "text", "shown", "rank", "title"}
    assert lines[0] == {
        "id": "q1",
        "question": "Qui a envahi l'Ukraine ?",
        "answer": "La Russie [1][2].",
        "abstained": False,
        "citations": [
            {
                "source": "d1",
                "chunk_id": "d1:0",
                "number": n,
                "quote": "quote from d1",
                "passage": "...",
            }
            for n in (1, 2)
        ],
        "cited_sources": ["d1"],
        "retrieved_sources": ["d1", "d3"],
        "retrieval_s": 0.01,
        "ttft_s": 0.1,
        "total_s": 1.0,
        "draft": "",
        "short": None,  # the stub bot's Answer sought none
        "short_s": None,
        "confidence": None,  # the stub bot's Answer measured none
        "signals": None,
        "confidence_s": None,
        "conflict": False,
        "second_look": False,
        "withheld": "",
        "expected": ["la Russie"],
        "gold_sources": ["d1"],
        "type": "fact",
        "lang": "fr",
    }
    assert (lines[1]["type"], lines[2]["lang"], lines[2]["abstained"]) == (None, None, True)

    assert (summary["cases"], summary["answerable"], summary["unanswerable"]) == (3, 2, 1)
    assert summary["hit@1"] == 0.5  # q1 yes, q2 no (d3 first)
    assert summary["hit@5"] == 1.0
    assert summary["mrr"] == 0.75
    assert summary["exact_match"] == 0.5  # q1: markers dropped, "russie" == "russie"
    assert summary["f1"] == pytest.approx((1 + 2 / 3) / 2)  # q2: "macron" vs "emmanuel macron"
    assert summary["contains_answer"] == 0.5
    assert summary["source_cited"] == 0.5  # q2 cites d3, gold is d2
    assert summary["false_abstention"] == 0.0
    assert summary["abstention_accuracy"] == 1.0
    assert summary["total_p50_s"] == 2.0


def test_run_eval_retrieval_only_and_limit(tmp_path, testset):
    bot = FakeBot()
    out = tmp_path / "retrieval.jsonl"
    cases = load_testset(testset)
    summary = run_eval(bot, cases, out, retrieval_only=True, limit=2, progress=False)

    assert [name for name, _ in bot.calls] == ["retrieve", "retrieve"]
    lines = read_lines(out)
    assert len(lines) == 2
    for line in lines:
        assert set(line) == RESULT_KEYS
        for key in ("answer", "abstained", "citations", "cited_sources", "ttft_s", "total_s"):
            assert line[key] is None, key
        assert isinstance(line["retrieval_s"], float) and line["retrieval_s"] >= 0
    assert lines[0]["retrieved_sources"] == ["d1", "d3"]
    assert summary["cases"] == 2
    assert (summary["hit@1"], summary["hit@5"], summary["mrr"]) == (0.5, 1.0, 0.75)
    assert "exact_match" not in summary


def test_cited_passage_text_is_matched_on_chunk_id(tmp_path, testset):
    bot = FakeBot()
    q1 = CASES[0]["question"]
    passages = (
        Passage(source="d1", chunk_id="d1:0", score=1.0, text="first text", rank=1),
        Passage(source="d1", chunk_id="d1:1", score=0.5, text="second text", rank=2),
    )
    citations = (
        Citation(source="d1", chunk_id="d1:1", quote="second", number=1),
        Citation(source="d9", chunk_id="d9:0", quote="nowhere", number=2),
    )
    bot.answers[q1] = Answer(
        question=q1,
        text="x [1][2]",
        abstained=False,
        citations=citations,
        passages=passages,
        timings=Timings(),
    )
    run_eval(bot, load_testset(testset), tmp_path / "out.jsonl", limit=1, progress=False)
    cited = read_lines(tmp_path / "out.jsonl")[0]["citations"]
    assert [(c["chunk_id"], c["passage"]) for c in cited] == [
        ("d1:1", "second text"),
        ("d9:0", None),
    ]


def test_load_testset_refuses_draft_cases(tmp_path):
    draft = {
        "id": "d1",
        "question": "Quand ?",
        "answers": ["jeudi"],
        "sources": ["a.txt"],
        "draft": True,
    }
    path = write_jsonl(tmp_path / "cases.jsonl", [json.dumps(CASES[0]), json.dumps(draft)])
    with pytest.raises(
        InputError,
        match=r"cases\.jsonl:2: case 'd1' is a draft; review it and remove the draft flag",
    ):
        load_testset(path)
    draft["draft"] = False  # reviewed: the flag may stay, set to false
    assert len(load_testset(write_jsonl(path, [json.dumps(draft)]))) == 1


class FailingBot(FakeBot):
    """Raises on the n-th question, as an interrupted run (Ctrl-C, crash) would."""

    def __init__(self, fail_at):
        super().__init__()
        self.fail_at = fail_at

    def ask(self, question):
        if len(self.calls) == self.fail_at:
            raise KeyboardInterrupt
        return super().ask(question)


def test_resume_runs_only_the_unfinished_cases(tmp_path, testset):
    cases = load_testset(testset)
    out = tmp_path / "run.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_eval(FailingBot(fail_at=2), cases, out, progress=False)
    assert [r["id"] for r in read_lines(out)] == ["q1", "q2"]  # finished cases were flushed

    bot = FakeBot()
    summary = run_eval(bot, cases, out, progress=False, resume=True)
    assert [q for _, q in bot.calls] == [CASES[2]["question"]]  # only q3 ran
    assert [r["id"] for r in read_lines(out)] == ["q1", "q2", "q3"]
    assert summary["cases"] == 3 and summary["abstention_accuracy"] == 1.0

    again = FakeBot()  # without --resume the file is overwritten and every case runs
    run_eval(again, cases, out, progress=False)
    assert len(again.calls) == 3 and len(read_lines(out)) == 3


def test_resume_progress_bar_counts_the_skipped_cases(tmp_path, testset, capsys):
    cases = load_testset(testset)
    out = tmp_path / "run.jsonl"
    run_eval(FakeBot(), cases, out, limit=2, progress=False)
    run_eval(FakeBot(), cases, out, resume=True)
    bar = capsys.readouterr().err
    assert "2/3" in bar and "3/3" in bar and "0/3" not in bar


def test_resume_keeps_order_after_a_second_interruption(tmp_path, testset):
    cases = load_testset(testset)
    out = tmp_path / "run.jsonl"
    write_jsonl(out, [json.dumps(r) for r in [_result(FakeBot(), cases[2])]])  # q3 done first
    with pytest.raises(KeyboardInterrupt):
        run_eval(FailingBot(fail_at=1), cases, out, progress=False, resume=True)
    assert [r["id"] for r in read_lines(out)] == ["q3", "q1"]  # nothing lost
    run_eval(FakeBot(), cases, out, progress=False, resume=True)
    assert [r["id"] for r in read_lines(out)] == ["q1", "q2", "q3"]  # test-set order at the end


def _result(bot, case):
    from rag.evaluation.runner import _run_case

    return _run_case(bot, case, retrieval_only=False)


def test_resume_drops_a_broken_last_line(tmp_path, testset):
    cases = load_testset(testset)
    out = tmp_path / "run.jsonl"
    out.write_text(
        json.dumps(_result(FakeBot(), cases[0])) + '\n{"id": "q2", "quest', encoding="utf-8"
    )
    bot = FakeBot()
    run_eval(bot, cases, out, progress=False, resume=True)
    assert len(bot.calls) == 2 and len(read_lines(out)) == 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"id": "q9", "question": "Autre ?", "answer": "x", "retrieved_sources": []},
            "not in this test set",
        ),
        (
            {"id": "q1", "question": "Autre question ?", "answer": "x", "retrieved_sources": []},
            "not in this test set",
        ),
        (
            {"id": "q1", "question": CASES[0]["question"], "answer": None, "retrieved_sources": []},
            "retrieval-only run",
        ),
    ],
)
def test_resume_refuses_results_of_another_run(tmp_path, testset, line, message):
    out = write_jsonl(tmp_path / "run.jsonl", [json.dumps(line), json.dumps(line)])
    with pytest.raises(InputError, match=message):
        run_eval(FakeBot(), load_testset(testset), out, progress=False, resume=True)


RESULT_LINE = dict.fromkeys(RESULT_KEYS) | {
    "id": "q1",
    "question": "a",
    "retrieved_sources": [],
}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps(RESULT_LINE) + "\n{oops\n", r"run\.jsonl:2: invalid JSON"),
        (
            '["q1"]\n',
            r"run\.jsonl:1: not a result line of 'rag eval' \(missing id, question, answer",
        ),
        (
            '{"id": "q1", "question": "a", "retrieved_sources": []}\n',
            r"run\.jsonl:1: not a result line .*missing answer",
        ),
        ("\n\n", "is empty"),
    ],
)
def test_load_results_errors(tmp_path, text, message):
    path = tmp_path / "run.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_results(path)
    with pytest.raises(InputError, match="cannot read results"):
        load_results(tmp_path / "missing.jsonl")


def test_add_passages_recovers_the_chunk_that_holds_the_quote():
    results = [
        {"citations": [{"source": "a", "quote": "deux  mots"}, {"source": "b", "quote": "absent"}]}
    ]
    chunks = [
        Chunk(id="a:0", doc_id="a", index=0, text="un mot", hash="h0"),
        Chunk(id="a:1", doc_id="a", index=1, text="ici deux mots là", hash="h1"),
    ]
    assert add_passages(results, chunks) == 1
    assert results[0]["citations"][0] == {
        "source": "a",
        "quote": "deux  mots",
        "chunk_id": "a:1",
        "passage": "ici deux mots là",
    }
    assert "passage" not in results[0]["citations"][1]


def test_add_semantic_similarity_only_on_given_answers():
    from rag.index.embed import HashEmbedder

    results = [
        {"answer": "Le Washington Post", "abstained": False, "expected": ["Washington Post"]},
        {"answer": "Les articles ne le disent pas.", "abstained": True, "expected": ["x"]},
        {"answer": None, "abstained": None, "expected": ["x"]},
    ]
    add_semantic_similarity(results, HashEmbedder())
    assert results[0]["semantic_similarity"] == pytest.approx(1.0)
    assert "semantic_similarity" not in results[1] and "semantic_similarity" not in results[2]


def test_a_result_line_carries_the_answer_confidence_and_its_signals():
    from rag.core.types import Signals
    from rag.evaluation.runner import _answer_fields

    given = Answer(
        question="q",
        text="Paris [1].",
        abstained=False,
        timings=Timings(confidence_s=0.5),
        confidence=0.7,
        signals=Signals(support=0.9, missing=("Lyon",), no_answer=0.1),
    )
    fields = _answer_fields(given)
    assert (fields["confidence"], fields["confidence_s"]) == (0.7, 0.5)
    assert fields["signals"]["support"] == 0.9 and fields["signals"]["missing"] == ("Lyon",)
    assert json.loads(json.dumps(fields["signals"]))["no_answer"] == 0.1  # a JSON line holds it
