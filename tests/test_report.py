import json
import re
from html import escape

import pytest

from rag.cli.main import main
from rag.evaluation.diagnosis import case_scores
from rag.evaluation.report import badness, type_rows, worst_cases, write_report

PASSAGE = (
    "Le Washington Post a rapporté jeudi la conversation entre Donald Trump et Vladimir Poutine."
)


def result(id_, type_, answer, abstained, cited, retrieved, expected, gold, t=1.0, draft=""):
    return {
        "id": id_,
        "question": f"Question {id_} ?",
        "answer": answer,
        "abstained": abstained,
        "citations": [
            {
                "source": s,
                "chunk_id": f"{s}:0",
                "number": 1,
                "quote": "Le Washington Post a rapporté",
                "passage": PASSAGE,
            }
            for s in cited
        ],
        "cited_sources": cited,
        "retrieved_sources": retrieved,
        "retrieval_s": t / 100,
        "ttft_s": t / 2,
        "total_s": t,
        "draft": draft or answer,
        "expected": expected,
        "gold_sources": gold,
        "type": type_,
        "lang": "fr",
    }


RESULTS = [
    result(
        "good",
        "fact",
        "Le Washington Post [1].",
        False,
        ["d1"],
        ["d1", "d2"],
        ["Washington Post"],
        ["d1"],
    ),
    result(
        "wrong-source",
        "fact",
        "Le Washington Post [1].",
        False,
        ["d2"],
        ["d2", "d1"],
        ["Washington Post"],
        ["d1"],
        2.0,
    ),
    result(
        "invented",
        "date",
        "La conversation a duré 3 heures [1].",
        False,
        ["d1"],
        ["d1"],
        ["jeudi"],
        ["d1"],
        3.0,
    ),
    result(
        "missed",
        "date",
        "Les articles ne le disent pas.",
        True,
        [],
        ["d3"],
        ["jeudi"],
        ["d1"],
        4.0,
        draft="Le 20 janvier [1]",
    ),
    result(
        "unans-ok", "unanswerable", "Les articles ne le disent pas.", True, [], ["d1"], [], [], 5.0
    ),
    result("unans-bad", "unanswerable", "À Moscou [1].", False, ["d1"], ["d1"], [], [], 6.0),
]


def test_type_rows_summarize_each_type_and_all():
    rows = {row["type"]: row for row in type_rows(RESULTS)}
    assert list(rows) == ["date", "fact", "unanswerable", "all"]
    assert rows["fact"]["cases"] == 2 and rows["fact"]["source_cited"] == 0.5
    assert rows["date"]["contains_answer"] == 0.0
    assert rows["unanswerable"]["abstention_accuracy"] == 0.5
    assert rows["all"]["cases"] == 6


def test_worst_cases_come_first_and_perfect_cases_are_left_out():
    worst = [r["id"] for r, _ in worst_cases(RESULTS)]
    assert worst[0] == "missed"  # retrieval miss, abstained, no source
    assert "good" not in worst and "unans-ok" not in worst
    assert set(worst) == {"missed", "wrong-source", "invented", "unans-bad"}
    assert badness(case_scores(RESULTS[0])) == 0


@pytest.fixture
def report(tmp_path):
    md, page = write_report(RESULTS, tmp_path / "report", "Test run", ["a note"])
    return md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8"), tmp_path / "report"


def test_html_is_self_contained_with_inline_charts(report):
    _, html, _ = report
    assert html.count("<svg") == 5  # scores, latency, types, ranks, risk–coverage
    assert 'id="chart-risk_coverage"' in html and "risk–coverage (one point" in html
    assert "http" not in html  # no external address at all: no fonts, scripts, images or DTDs
    assert not re.search(r"<(script|link|img)\b", html)
    assert "<?xml" not in html and "<metadata>" not in html


def test_html_shows_why_each_worst_case_failed(report):
    _, html, _ = report
    for reason in (
        "cites d2, gold is d1",
        "unsupported: «La conversation a duré 3 heures [1].» (number 3",
        "no gold document retrieved",
        "answered an unanswerable question",
        "withheld draft: Le 20 janvier [1]",
    ):
        assert escape(reason) in html, reason
    assert PASSAGE in html  # the cited passage, folded under its quote
    assert "<td>date</td><td class=num>2</td>" in html


def test_markdown_report_has_summary_charts_table_and_cases(report):
    md, _, folder = report
    assert md.startswith("# Test run\n\na note")
    assert "hit@5" in md and "faithfulness" in md
    for name in ("scores", "latency", "types", "ranks"):
        assert f"![{name}](plots/{name}.svg)" in md
        assert (folder / "plots" / f"{name}.svg").read_text().startswith("<?xml")
    assert "| unanswerable | 2 |" in md
    assert "### missed (date)" in md and "*source: cites d2, gold is d1*" in md


def test_report_of_a_retrieval_only_run(tmp_path):
    lines = [
        dict(
            r,
            answer=None,
            abstained=None,
            citations=None,
            cited_sources=None,
            ttft_s=None,
            total_s=None,
        )
        for r in RESULTS
    ]
    md, page = write_report(lines, tmp_path)
    assert "not measured" in page.read_text() and "hit@1" in md.read_text()


def test_cli_report_and_eval_with_report(tmp_path, capsys):
    results = tmp_path / "run.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in RESULTS), encoding="utf-8")
    assert main(["eval", "report", str(results), "--report", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and "faithfulness" in out
    assert (tmp_path / "r" / "report.html").exists() and (tmp_path / "r" / "report.md").exists()
    assert (
        main(["eval", "report", str(tmp_path / "nope.jsonl"), "--report", str(tmp_path / "r")]) == 1
    )
    assert capsys.readouterr().err.startswith("Error: cannot read results")


def test_cli_report_recovers_passages_of_older_results(tmp_path, capsys, seeds):
    old = {
        **RESULTS[0],
        "citations": [
            {
                "source": "001_2b9e3b30e134a6cf.txt",
                "quote": "le Washington Post a rapporté que Donald Trump",
            }
        ],
    }
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    args = [
        "eval",
        "report",
        str(path),
        "--report",
        str(tmp_path / "r"),
        "--passages-from",
        str(seeds),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "cited passages recovered from 5 documents: 1" in out
    assert "faithfulness (n=1 with cited passages)" in out


def test_semantic_similarity_is_shown_but_never_a_failure():
    graded = dict(RESULTS[0], semantic_similarity=0.4)
    assert [r["id"] for r, _ in worst_cases([graded])] == []
