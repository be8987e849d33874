import json

import pytest

from rag.errors import InputError
from rag.evaluate import load_testset, run_eval
from rag.types import Answer, Citation, Passage, Timings

CASES = [
    {"id": "q1", "question": "Qui a envahi l'Ukraine ?", "answers": ["la Russie"],
     "sources": ["d1"], "lang": "fr", "type": "fact", "title": "Guerre"},
    {"id": "q2", "question": "Qui préside la France ?", "answers": ["Emmanuel Macron"],
     "sources": ["d2"], "lang": "fr"},
    {"id": "q3", "question": "Quel temps fera-t-il sur Mars demain ?", "answers": [],
     "sources": [], "type": "unanswerable"},
]  # fmt: skip

RESULT_KEYS = {
    "id", "question", "answer", "abstained", "citations", "cited_sources", "retrieved_sources",
    "retrieval_s", "ttft_s", "total_s", "draft", "expected", "gold_sources", "type", "lang",
}  # fmt: skip


def write_jsonl(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def passage(source, rank, index=0):
    return Passage(source, chunk_id=f"{source}:{index}", score=1 / rank, text="...", rank=rank)


def answer(question, text, abstained, cited, retrieved, total):
    citations = tuple(
        Citation(source=s, chunk_id=f"{s}:0", quote=f"quote from {s}", number=i)
        for i, s in enumerate(cited, start=1)
    )
    passages = tuple(passage(s, r) for r, s in enumerate(retrieved, start=1))
    timings = Timings(retrieval_s=total / 100, first_token_s=total / 10, total_s=total)
    return Answer(question, text, abstained, citations, passages, timings)


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
        (['{"id": "q1", "question": "a", "answers": [], "sources": []}', "", "{broken"],
         r"cases\.jsonl:3: invalid JSON"),
        (['{"id": "q1", "question": "a", "answers": []}'],
         r"cases\.jsonl:1: missing key\(s\) sources"),
        (['{"id": "q1", "question": "a", "answers": [], "sources": []}',
          '{"id": "q2", "question": "b", "answers": [], "sources": []}',
          '{"id": "q1", "question": "c", "answers": [], "sources": []}'],
         r"cases\.jsonl:3: duplicate id 'q1' \(first on line 1\)"),
        (['{"id": "q1", "question": "a", "answers": "Paris", "sources": []}'],
         r"cases\.jsonl:1: 'answers' must be a list of strings"),
        (['["q1", "a"]'], r"cases\.jsonl:1: expected a JSON object"),
        (["", "  "], r"has no cases"),
    ],
)  # fmt: skip
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
    assert lines[0] == {
        "id": "q1",
        "question": "Qui a envahi l'Ukraine ?",
        "answer": "La Russie [1][2].",
        "abstained": False,
        "citations": [{"source": "d1", "quote": "quote from d1"}] * 2,
        "cited_sources": ["d1"],
        "retrieved_sources": ["d1", "d3"],
        "retrieval_s": 0.01,
        "ttft_s": 0.1,
        "total_s": 1.0,
        "draft": "",
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
