"""The shape of the package: layers you can see, the import contract, and an install that works
outside the source checkout."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rag"


def test_the_top_level_shows_the_layers():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= 12, entries
    for layer in (
        "core",
        "text",
        "index",
        "retrieve",
        "answer",
        "llm",
        "cli",
        "ui",
        "evaluation",
        "testing",
    ):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, long


def test_the_import_contract_holds():
    """text <- index <- retrieve <- answer <- pipeline <- cli / ui; nothing in the product imports
    evaluation; llm.transformers sees only the llm base, weights and core; no cycles (pyproject.toml)."""
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "BROKEN" not in out.stdout and out.stdout.count("KEPT") >= 5


def test_import_rag_loads_no_heavy_library():
    code = (
        "import sys, rag\n"
        "heavy = {'torch', 'transformers', 'gradio', 'chromadb', 'llama_index', 'numpy', 'pydantic_settings'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def _copy_source(dest: Path) -> Path:
    """The files a build needs, outside the checkout (an in-tree build would write egg-info there)."""
    dest.mkdir()
    shutil.copytree(PACKAGE, dest / "rag", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    return dest


def test_a_non_editable_install_answers_from_a_folder_outside_the_repo(tmp_path, seeds):
    """`pip install .` (not -e) into a fresh venv: its `rag` ingests a folder and answers, with the
    prompt templates read from the installed package. The dependencies come from this venv (a .pth
    line), so nothing is downloaded."""
    venv = tmp_path / "venv"
    # without pip: pip and setuptools come from this venv through the .pth line below
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps-from-test-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = _copy_source(tmp_path / "src")
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    shutil.rmtree(source)  # the install must not need its source any more

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {
        **os.environ,
        "RAG_LLM": "fake",
        "RAG_EMBEDDER": "fake",
        "RAG_MIN_DENSE_SCORE": "0",
        "RAG_INDEX_DIR": str(work / "index"),
    }
    env.pop("PYTHONPATH", None)
    rag = str(venv / "bin" / "rag")

    def run(*args):
        return subprocess.run(
            [rag, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )

    where = subprocess.run(
        [str(python), "-c", "import rag; print(rag.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(site), where
    templates = subprocess.run(
        [str(python), "-c", "from rag import Settings; print(Settings().answer.prompts_dir)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert templates.startswith(site) and Path(templates, "answer.txt").is_file(), templates
    ingest = run("ingest", str(seeds))
    assert ingest.returncode == 0 and "5 added" in ingest.stdout, ingest.stderr
    ask = run("ask", "Marc Fogel a-t-il été libéré ?", "--json")
    assert ask.returncode == 0, ask.stderr
    import json

    answer = json.loads(ask.stdout)
    assert not answer["abstained"] and answer["citations"], answer
    assert answer["citations"][0]["source"].endswith(".txt")
    assert run("eval", "--help").returncode == 0  # the evaluation plugin is installed with it


@pytest.mark.parametrize("field", ["llm", "fusion"])
def test_the_names_the_cli_offers_are_the_settings_names(field):
    from rag.core.choices import FUSIONS, LLM_BACKENDS
    from rag.core.settings import SECTIONS, section_of
    from rag.llm.registry import BACKENDS

    names = tuple(m.value for m in SECTIONS[section_of(field)].model_fields[field].annotation)
    assert (
        names == {"llm": LLM_BACKENDS, "fusion": FUSIONS}[field]
    )  # the settings' type is built from them
    if field == "llm":
        assert set(BACKENDS) == set(
            LLM_BACKENDS
        )  # every name has a backend, and no backend is unnamed
