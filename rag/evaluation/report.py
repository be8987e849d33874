"""The evaluation report: `report.md` (with SVG charts beside it) and a standalone `report.html`.

    write_report(load_results("results/seeds.jsonl"), Path("report/"))

The HTML page carries its charts inline (SVG) and has no external address, so it can be mailed or
archived as one file. The worst cases come with their reason strings (`rag.evaluation.diagnosis`),
so a person sees why each one failed without opening the JSONL.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.evaluation.diagnosis import Score, case_scores
from rag.evaluation.metrics import format_summary, summarize
from rag.evaluation.selective import selective_metrics

TYPE_METRICS = [
    ("hit@5", "retrieval hit@5"),
    ("contains_answer", "contains answer"),
    ("source_cited", "right source cited"),
    ("abstention_accuracy", "abstained (unanswerable)"),
    ("faithfulness", "faithfulness"),
]
TYPE_COLUMNS = [("hit@1", "hit@1"), ("hit@5", "hit@5"), ("mrr", "MRR"), *TYPE_METRICS[1:]]


def type_rows(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The summary of each question type (the `type` field; "(none)" when missing), plus "all"."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        groups.setdefault(r.get("type") or "(none)", []).append(r)
    rows = [{"type": name, **summarize(group)} for name, group in sorted(groups.items())]
    return [*rows, {"type": "all", **summarize(results)}]


# Semantic similarity is a graded closeness, not a pass/fail check: shown, never a failure.
GRADED = frozenset({"semantic"})


def badness(scores: Mapping[str, Score]) -> float:
    """How badly a case went: the sum of (1 - value) over its pass/fail scores that apply."""
    return sum(
        1.0 - s.value for name, s in scores.items() if s.value is not None and name not in GRADED
    )


def worst_cases(
    results: Sequence[Mapping[str, Any]], n: int = 15
) -> list[tuple[Mapping[str, Any], dict[str, Score]]]:
    """The n cases with the highest badness (ties in file order), only those that lost points."""
    scored = [(r, case_scores(r)) for r in results]
    ranked = sorted(enumerate(scored), key=lambda item: (-badness(item[1][1]), item[0]))
    return [pair for _, pair in ranked if badness(pair[1]) > 0][:n]


def _rate(value: Any) -> str:
    return (
        "–" if value is None else f"{100 * value:.0f}%" if isinstance(value, float) else str(value)
    )


def _mrr(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def _cell(row: Mapping[str, Any], key: str) -> str:
    return _mrr(row.get(key)) if key == "mrr" else _rate(row.get(key))


def _short(text: Any, limit: int = 220) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _reasons(scores: Mapping[str, Score]) -> list[str]:
    return [
        f"{name}: {s.reason}"
        for name, s in scores.items()
        if s.value is not None and s.value < 1 and name not in GRADED
    ]


def _answer_text(r: Mapping[str, Any]) -> str:
    if r.get("answer") is None:
        return "(retrieval only)"
    text = r["answer"]
    if r.get("abstained") and r.get("draft"):
        text += f" — withheld draft: {r['draft']}"
    return text


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(
    results: Sequence[Mapping[str, Any]], title: str, charts: Sequence[str], notes: Sequence[str]
) -> str:
    """report.md: summary, charts (files beside it), per-type table, worst cases."""
    rows = type_rows(results)
    out = [f"# {title}", "", *notes, "", "```", format_summary(summarize(results)), "```", ""]
    out += [f"![{name}](plots/{name}.svg)" for name in charts] + [""]
    out += [
        "## By question type",
        "",
        "| type | cases | " + " | ".join(c for _, c in TYPE_COLUMNS) + " |",
    ]
    out.append("|---" * (len(TYPE_COLUMNS) + 2) + "|")
    for row in rows:
        cells = [row["type"], str(row["cases"])] + [_cell(row, k) for k, _ in TYPE_COLUMNS]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "## Worst cases", ""]
    for r, scores in worst_cases(results):
        out += [
            f"### {r['id']} ({r.get('type') or 'no type'})",
            "",
            f"- **question**: {_md_escape(r['question'])}",
            f"- **expected**: {_md_escape(', '.join(r.get('expected') or []) or '(unanswerable)')}",
            f"- **answer**: {_md_escape(_short(_answer_text(r), 400))}",
        ]
        for c in r.get("citations") or []:
            out.append(f"- **cited** {c['source']}: « {_md_escape(_short(c.get('quote'), 200))} »")
        out += [f"- *{_md_escape(reason)}*" for reason in _reasons(scores)] + [""]
    return "\n".join(out)


CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222;"
    "padding:0 1em}\n"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;\n"
    "text-align:left;font-size:.9em}th{background:#f3f3f3}pre{background:#f6f6f6;padding:1em}\n"
    ".reason{color:#a33}.chart svg{max-width:100%;height:auto}details{font-size:.85em}"
    ".num{text-align:right}"
)


def _h(text: Any) -> str:
    return html.escape(str(text))


def _html_case(r: Mapping[str, Any], scores: Mapping[str, Score]) -> str:
    cited = "".join(
        f"<details><summary>{_h(c['source'])}: « {_h(_short(c.get('quote'), 160))} »</summary>"
        f"{_h(c.get('passage') or '(passage text not recorded)')}</details>"
        for c in r.get("citations") or []
    )
    reasons = "<br>".join(f'<span class="reason">{_h(x)}</span>' for x in _reasons(scores))
    expected = ", ".join(r.get("expected") or []) or "(unanswerable)"
    cells = [
        f"<b>{_h(r['id'])}</b><br>{_h(r.get('type') or '')}",
        _h(r["question"]),
        _h(expected),
        _h(_answer_text(r)),
        cited or "–",
        reasons,
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def html_page(
    results: Sequence[Mapping[str, Any]],
    title: str,
    charts: Mapping[str, str],
    notes: Sequence[str],
) -> str:
    """report.html: the same content as report.md, charts inline, no external resources."""
    from rag.evaluation.plots import inline_svg

    rows = type_rows(results)
    head = (
        "<tr><th>type</th><th>cases</th>"
        + "".join(f"<th>{_h(c)}</th>" for _, c in TYPE_COLUMNS)
        + "</tr>"
    )
    body = "".join(
        f"<tr><td>{_h(row['type'])}</td><td class=num>{row['cases']}</td>"
        + "".join(f"<td class=num>{_h(_cell(row, k))}</td>" for k, _ in TYPE_COLUMNS)
        + "</tr>"
        for row in rows
    )
    worst = "".join(_html_case(r, s) for r, s in worst_cases(results))
    charts_html = "".join(
        f'<div class="chart" id="chart-{_h(n)}">{inline_svg(svg)}</div>'
        for n, svg in charts.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_h(title)}</title><style>{CSS}</style></head>
<body><h1>{_h(title)}</h1>{"".join(f"<p>{_h(n)}</p>" for n in notes)}
<pre>{_h(format_summary(summarize(results)))}</pre>
<h2>Charts</h2>{charts_html}
<h2>By question type</h2><table>{head}{body}</table>
<h2>Worst cases</h2><table><tr><th>case</th><th>question</th><th>expected</th><th>answer</th>
<th>cited passages</th><th>why</th></tr>{worst}</table></body></html>
"""


def charts(results: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Every chart of the report as an SVG document, by name."""
    from rag.evaluation import plots

    scores = [case_scores(r) for r in results]
    type_table = [row for row in type_rows(results) if row["type"] != "all"]
    metrics = [m for m in TYPE_METRICS if any(row.get(m[0]) is not None for row in type_table)]
    return {
        "scores": plots.score_distributions(results, scores),
        "latency": plots.latency_histograms(results),
        "types": plots.type_bars(type_table, metrics),
        "ranks": plots.rank_histogram(results),
        **(
            {"risk_coverage": plots.risk_coverage(selective_metrics(results)["risk_coverage"])}
            if any(r.get("answer") is not None for r in results)
            else {}
        ),
    }


def write_report(
    results: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    title: str = "Evaluation report",
    notes: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write report.md, plots/*.svg and report.html into out_dir; return the two report paths."""
    out_dir = Path(out_dir)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    drawn = charts(results)
    for name, svg in drawn.items():
        (out_dir / "plots" / f"{name}.svg").write_text(svg, encoding="utf-8")
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(markdown(results, title, list(drawn), notes), encoding="utf-8")
    page.write_text(html_page(results, title, drawn, notes), encoding="utf-8")
    return md, page
