"""Usage: RAG_INDEX_DIR=… python benchmarks/premise_retrieval.py TESTSET.jsonl OUT.jsonl

The premise signal over the retrieved passages (no generation): for each case, the question's
names and numbers missing from the top passage and from all retrieved passages."""

import json
import sys
from collections import Counter, defaultdict

from rag.answer.confidence import missing_terms, premise_terms
from rag.core.settings import Settings
from rag.pipeline import RAG

testset, out = sys.argv[1], sys.argv[2]
bot = RAG(Settings())
rows = []
for line in open(testset):
    case = json.loads(line)
    passages = bot.retrieve(case["question"])
    texts = [f"{p.title}\n{p.prompt_text}" for p in passages]
    rows.append(
        {
            "id": case["id"],
            "type": case["type"],
            "lang": case["lang"],
            "terms": premise_terms(case["question"]),
            "missing_top1": missing_terms(case["question"], texts[:1]),
            "missing_top3": missing_terms(case["question"], texts[:3]),
            "missing_all": missing_terms(case["question"], texts),
            "k": len(texts),
        }
    )
with open(out, "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
by = defaultdict(Counter)
for r in rows:
    group = r["type"] if r["type"] in ("unanswerable", "false_premise") else "answerable"
    by[(group, r["lang"])]["n"] += 1
    for k in ("missing_top1", "missing_top3", "missing_all"):
        by[(group, r["lang"])][k] += bool(r[k])
for key, c in sorted(by.items()):
    print(key, dict(c))
