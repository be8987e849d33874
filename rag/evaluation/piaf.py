"""The PIAF benchmark setup: French Wikipedia paragraphs as documents, dev questions as cases.

    settings = piaf_settings(Settings(), corpus, index_dir)   # one chunk a paragraph
    RAG(settings).ingest()                                     # incremental

The data lives beside the repository (`../shared/data/piaf/`, see its README): `corpus.jsonl`
({"id", "title", "text"} a line) and `dev_questions.jsonl` (a test set whose sources are
paragraph ids). `subset_corpus` makes the small corpus the quality gate uses.
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.core.errors import InputError
from rag.core.settings import Settings
from rag.evaluation.runner import load_testset, read_lines
from rag.evaluation.settings import EvaluationSettings

INDEX = Path(".rag-piaf")  # in the working directory, unless --index
RETRIEVAL_TOP_K = 20  # as benchmarks/piaf_retrieval.py: MRR over the top 20


# The latent-terms weight with the best hit@5 on the dev questions and on either half of them
# (docs/results/2026-11-22-latent-terms.md).
LATENT_WEIGHT = 0.75
# Paragraphs shown to the model: a PIAF paragraph is a whole long chunk, and three of them give
# shorter prompts that hold the gold answer nearly as often as five, with better answers
# (docs/results/2026-12-06-passages-in-prompt.md).
TOP_K = 3


def piaf_settings(base: Settings, corpus: Path, index_dir: Path) -> Settings:
    """PIAF paragraphs are the passages: one chunk each (512 tokens), sentence windows for dense,
    the latent-terms ranking on (1,518 paragraphs on many subjects: it finds paragraphs that
    words and window vectors miss; among news chunks of one story it only reshuffles them), and
    three of these long passages shown (TOP_K), unless the user chose a number."""
    given = base.given()  # what the user chose wins (RAG_LATENT_WEIGHT=0 measures without)
    return base.updated(
        sources=[Path(corpus)],
        index_dir=Path(index_dir),
        chunk_size=512,
        chunk_overlap=0,
        latent_weight=base.advanced.latent_weight if "latent_weight" in given else LATENT_WEIGHT,
        top_k=base.retrieval.top_k if "top_k" in given else TOP_K,
    )


def corpus_path(settings: EvaluationSettings | None = None) -> Path:
    return (settings or EvaluationSettings()).piaf_dir / "corpus.jsonl"


def questions_path(settings: EvaluationSettings | None = None) -> Path:
    return (settings or EvaluationSettings()).piaf_dir / "dev_questions.jsonl"


def require(path: Path, what: str) -> Path:
    """The path, or InputError saying where the PIAF data is expected."""
    if not Path(path).exists():
        raise InputError(
            f"no PIAF {what} at {path} — set RAG_PIAF_DIR to the PIAF folder or pass its path"
        )
    return Path(path)


def subset_corpus(
    corpus: Path, questions: Path, out: Path, n_questions: int, n_paragraphs: int
) -> Path:
    """Write a smaller corpus: the gold paragraphs of the first n_questions, then the corpus's
    other paragraphs in file order, up to n_paragraphs in all. Deterministic; returns `out`.
    """
    cases = load_testset(require(questions, "questions"))[:n_questions]
    gold = {s for c in cases for s in c["sources"]}
    lines = [ln for ln in read_lines(require(corpus, "corpus"), "corpus") if ln.strip()]
    records = [json.loads(ln) for ln in lines]
    missing = gold - {r["id"] for r in records}
    if missing:
        raise InputError(
            f"{corpus} lacks the gold paragraph(s) {', '.join(sorted(missing)[:3])} of {questions}"
        )
    keep = [r for r in records if r["id"] in gold]
    keep += [r for r in records if r["id"] not in gold][: max(0, n_paragraphs - len(keep))]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep)
    out.parent.mkdir(parents=True, exist_ok=True)
    if (
        not out.exists() or out.read_text(encoding="utf-8") != text
    ):  # unchanged: nothing to re-embed
        out.write_text(text, encoding="utf-8")
    return out
