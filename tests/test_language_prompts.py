from pathlib import Path

import pytest

from rag.answer.prompts import placeholders, render
from rag.core.errors import RagError
from rag.core.settings import Settings
from rag.text.language import detect


@pytest.mark.parametrize(
    "question, lang",
    [
        ("Qui a rapporté l'appel ?", "fr"),
        ("Quel journal a révélé la conversation ?", "fr"),
        ("Combien de temps a duré l'entretien ?", "fr"),
        ("Et combien de temps a-t-il duré ?", "fr"),
        ("Who reported the call?", "en"),
        ("How long did the February call last?", "en"),
        ("What did Putin say to Trump about the war?", "en"),
        ("Which newspaper reported it?", "en"),
    ],
)
def test_detect(question, lang):
    assert detect(question) == lang


EXPECTED = {
    "system": {"language"},
    "answer": {"passages", "question", "language"},
    "rewrite": {"history", "question"},
    "verify": {"passage", "question", "answer"},
    "weekday.fr": set(),  # added after the answer prompt when a question asks for a weekday
    "weekday.en": set(),
    "short": {"passage", "question"},  # the short answer's span choice (rag.answer.short)
    "system.short": set(),
}


@pytest.mark.parametrize("name, names", EXPECTED.items())
def test_every_prompt_renders_with_its_variables(name, names):
    prompts_dir = Settings().answer.prompts_dir
    text = render(prompts_dir, name, **{n: f"<{n}>" for n in names})
    assert all(f"<{n}>" in text for n in names)


def test_every_prompt_file_is_known():
    files = {p.stem for p in Settings().answer.prompts_dir.glob("*.txt")}
    assert files == set(EXPECTED)


def test_render_refuses_missing_or_extra_values(tmp_path: Path):
    (tmp_path / "t.txt").write_text("Hello {who}", encoding="utf-8")
    assert placeholders("a {x} {y}") == {"x", "y"}
    with pytest.raises(RagError, match="expects"):
        render(tmp_path, "t")
    with pytest.raises(RagError, match="expects"):
        render(tmp_path, "t", who="a", extra="b")
