"""Which cases of a test set rag.answer.conflicts answers with a report and its denial, without
any model: the passages are every paragraph of the case's articles (all the seeds for
evals/seeds.jsonl; the case's own articles for a Wikinews set), so retrieval is not measured.

    python benchmarks/conflicts_probe.py evals/seeds.jsonl seeds/
    python benchmarks/conflicts_probe.py evals/wikinews.jsonl ../shared/data/wikinews-fr/articles.jsonl
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

from rag.answer import conflicts
from rag.core.types import Passage
from rag.evaluation.squad import contains_answer


def paragraphs(source: str, text: str, date: str | None) -> list[Passage]:
    paras = [p.strip() for p in text.split("\n") if p.strip()]
    return [
        Passage(source=source, chunk_id=f"{source}:{i}", score=0.0, text=p, rank=0, date=date)
        for i, p in enumerate(paras)
    ]


def articles(corpus: Path) -> dict[str, list[Passage]]:
    """A seeds-like folder (an optional " date YYYY-MM[-DD] " lead) or a JSONL export."""
    out = {}
    if corpus.is_dir():
        for f in sorted(corpus.glob("*.txt")):
            text, date = f.read_text(encoding="utf-8"), None
            if text.startswith(" date "):
                _, _, date, text = text.split(" ", 3)
            out[f.name] = paragraphs(f.name, text, date)
    else:
        for line in corpus.open(encoding="utf-8"):
            d = json.loads(line)
            out[d["id"]] = paragraphs(d["id"], d["text"], d.get("date"))
    return out


def main(cases: str, corpus: str) -> None:
    arts = articles(Path(corpus))
    every = [p for ps in arts.values() for p in ps] if Path(corpus).is_dir() else None
    said = total = made_up = 0
    for line in open(cases, encoding="utf-8"):
        case = json.loads(line)
        shown = every or [p for s in case.get("sources") or [] for p in arts.get(s, [])]
        shown = [replace(p, rank=i) for i, p in enumerate(shown, 1)]
        found, _ = conflicts.find(
            case["question"],
            shown,
            article=lambda s, shown=shown: [p for p in shown if p.source == s],
        )
        text = conflicts.say(found, case["lang"])[0] if found else ""
        if case.get("type") == "conflict":
            total += 1
            both = bool(found) and all(contains_answer(text, s["answers"]) for s in case["sides"])
            said += both
            print(case["id"], "both accounts" if both else "MISSED")
        elif found:
            made_up += 1
            print(case["id"], case.get("type"), "answered as a conflict:", text[:160])
    print(
        f"conflict cases with both accounts: {said}/{total}; other cases answered as a conflict:"
        f" {made_up}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
