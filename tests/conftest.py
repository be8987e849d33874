# The offline environment comes first, before anything can import a Hugging Face library.
import os

from rag.core.offline import OFFLINE

for _key, _value in OFFLINE.items():
    os.environ[_key] = _value

import shutil
from pathlib import Path

import pytest

from rag.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the seed articles (tests may add, change or delete files)."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path, seeds: Path) -> Settings:
    """Fakes everywhere, every data directory under tmp_path."""
    return Settings(
        sources=[seeds],
        index_dir=tmp_path / "index",
        model_cache=tmp_path / "cache",
        embedder="fake",
        llm="fake",
        min_dense_score=0.0,
        # the fakes' scripted replies are not graded answers: every answer that passes the checks
        # is kept; tests of the threshold set their own (tests/test_confidence.py)
        min_confidence=0.0,
    )
