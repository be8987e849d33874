"""rag.answer.weekday: which weekdays a weekday question drafted with a date may be answered with."""

from __future__ import annotations

import pytest

from rag.answer import weekday
from rag.core.types import Passage
from rag.index.embed import HashEmbedder
from rag.testing.fakes import FakeLLM

# Sentences of the seeds (000, 001), with the dates ingest resolves shown as the model sees them.
P1 = Passage(
    source="001.txt",
    chunk_id="001.txt:0",
    score=0.5,
    text=(
        "Cet entretien, qui a eu lieu jeudi dernier (7 novembre 2024), marque la première conversation "
        "directe entre les deux dirigeants. Trump a également eu un entretien avec le président "
        "ukrainien Volodymyr Zelensky mercredi (6 novembre 2024)."
    ),
    rank=1,
)
P2 = Passage(
    source="000.txt",
    chunk_id="000.txt:0",
    score=0.4,
    text=(
        "Lors d'une interview à bord d'Air Force One vendredi, le président américain a refusé de "
        "dire combien de fois il avait parlé à Poutine. Le Kremlin a indiqué dimanche ne pouvoir "
        "confirmer ou infirmer une information de la presse américaine."
    ),
    rank=1,
)


def test_every_weekday_the_passages_write_with_its_passage_number():
    assert weekday.options([P1, P2]) == {
        "Jeudi dernier [1]": 1,
        "Mercredi [1]": 1,
        "Vendredi [2]": 2,
        "Dimanche [2]": 2,
    }


def test_with_an_embedder_only_the_weekdays_of_the_sentences_closest_to_the_question():
    q = "Quel jour de la semaine Trump a-t-il eu un entretien avec le président ukrainien Zelensky ?"
    offered = weekday.options([P1, P2], q, HashEmbedder())
    assert "Mercredi [1]" in offered and len(offered) == weekday.SENTENCES
    q = "Quel jour de la semaine Trump a-t-il donné l'interview à bord d'Air Force One ?"
    assert "Vendredi [2]" in weekday.options([P1, P2], q, HashEmbedder())


@pytest.mark.parametrize(
    "draft, asks",
    [
        ("Le 7 novembre 2024 [1]", True),
        ("Jeudi dernier [1]", False),  # names a day already
        ("NO_ANSWER", False),  # the model's refusal stands
        ("  ", False),  # so does an empty reply
    ],
)
def test_only_a_weekday_question_drafted_without_a_day_is_asked_again(draft, asks):
    assert weekday.needs_choice("Quel jour de la semaine a eu lieu l'appel ?", draft) is asks
    assert not weekday.needs_choice("Quand a eu lieu l'appel ?", draft)


def test_the_model_may_prefer_no_answer():
    messages = [{"role": "user", "content": "?"}]
    assert weekday.choose(FakeLLM(choice=lambda m: "NO_ANSWER"), messages, [P1, P2]) is None
    assert (
        weekday.choose(FakeLLM(choice=lambda m: "Vendredi [2]"), messages, [P1, P2])
        == "Vendredi [2]"
    )
    assert (
        weekday.choose(
            FakeLLM(),
            messages,
            [Passage(source="a", chunk_id="a:0", score=0.5, text="Rien ici.", rank=1)],
        )
        is None
    )
