"""docs/configuration.md, generated from the `Settings` model: `python -m rag.core.configdoc`.

`render()` builds the Markdown (one section per `SECTIONS` entry: a table of environment variable,
type, default and description); `main()` writes it, or with `--check` only says whether the file
is stale. tests/test_configuration.py fails when the committed file differs from `render()`.
"""

from __future__ import annotations

import argparse
import enum
import json
import re
import sys
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from rag.core.settings import SECTIONS, Settings

PACKAGE = Path(__file__).resolve().parent.parent  # the installed `rag` package
ROOT = PACKAGE.parent
DOC = Path("docs") / "configuration.md"
NOTE = re.compile(r"docs/(results/[\w.-]+\.md)")

NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    Path: "path",
    SecretStr: "secret",
}

HEADER = """\
# Configuration

<!-- Generated from rag/core/settings.py by `python -m rag.core.configdoc`: do not edit by hand. -->

Every setting is an environment variable prefixed `RAG_` (any case), or a keyword argument of
`rag.Settings` in Python, named as the variable without its prefix, in lower case:
`RAG_TOP_K=3 rag ask "…"` or `Settings(top_k=3)`. In Python each setting is read from its
section (`settings.retrieval.top_k`) and changed with `settings.updated(top_k=3)`; the variable
`RAG_<SECTION>__<NAME>` (`RAG_RETRIEVAL__TOP_K`) works too. Values are validated when the
settings are built: a number out of its bounds or an unknown choice is refused with its name.
Lists are written as JSON (`RAG_SOURCES='["news", "more.jsonl"]'`); booleans as `true` or
`false`. Some settings are also `rag` command-line flags (`rag --help`). The measurements behind
the defaults are dated notes in [results/](results/).
"""


def env_names(name: str, field: FieldInfo) -> list[str]:
    """The environment variables that set `field`."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [c for c in alias.choices if isinstance(c, str) and c != name]
    if isinstance(alias, str):
        return [alias]
    return [(Settings.model_config.get("env_prefix", "") + name).upper()]


def type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `integer`, `path (optional)`, `one of …`."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return " or ".join(type_name(a) for a in inner) + " (optional)"
    if origin is list:
        (item,) = get_args(annotation)
        return f"list of {type_name(item)}s (JSON)"
    return NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def bounds(field: FieldInfo) -> str:
    """Constraints such as `ge=0`, written ` ≥ 0`."""
    marks = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    return "".join(
        f" {sign} {getattr(m, key)}"
        for m in field.metadata
        for key, sign in marks.items()
        if hasattr(m, key)
    )


def show_path(path: Path) -> str:
    """A path as it reads on any machine: `rag/…` inside the installed package, `~/…` under the
    home folder, else as given."""
    if path.is_absolute():
        for base, label in ((PACKAGE, "rag/"), (Path.home(), "~/")):
            if path.is_relative_to(base):
                return label + path.relative_to(base).as_posix()
    return path.as_posix()


def plain(value: Any) -> Any:
    """`value` as JSON would write it, with machine-independent paths."""
    if isinstance(value, Path):
        return show_path(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def show_default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, (list, tuple)):
        return f"`{json.dumps(plain(value), ensure_ascii=False)}`"
    if isinstance(value, Path) and value.is_absolute() and value.is_relative_to(PACKAGE):
        return f"`{show_path(value)}` (in the installed package)"
    return f"`{plain(value)}`"


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def linked(description: str) -> str:
    """`docs/results/NOTE.md` mentions as links relative to docs/configuration.md."""
    return NOTE.sub(lambda m: f"[{m.group(1)}]({m.group(1)})", description)


def render() -> str:
    """The Markdown of docs/configuration.md."""
    titles = {name: name.capitalize() for name in SECTIONS}
    out = [HEADER, "Sections: " + ", ".join(f"[{t}](#{n})" for n, t in titles.items()) + ".\n"]
    for name, section in SECTIONS.items():
        out.append(f"## {titles[name]}\n")
        out.append(cell(section.__doc__ or "") + "\n")
        out.append("| Variable | Type | Default | Description |")
        out.append("|---|---|---|---|")
        for field_name, field in section.model_fields.items():
            out.append(
                "| "
                + " | ".join(
                    cell(c)
                    for c in (
                        " or ".join(f"`{e}`" for e in env_names(field_name, field)),
                        type_name(field.annotation) + bounds(field),
                        show_default(field),
                        linked(field.description or ""),
                    )
                )
                + " |"
            )
        out.append("")
    return "\n".join(out)


def default_target() -> Path:
    """docs/configuration.md of the source checkout this package lies in, else of the current
    folder."""
    return ROOT / DOC if (ROOT / "pyproject.toml").exists() else DOC


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag.core.configdoc", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "path", nargs="?", type=Path, default=None, help=f"where to write (default: {DOC})"
    )
    parser.add_argument("--check", action="store_true", help="only exit 1 when the file is stale")
    args = parser.parse_args(argv)
    target = args.path or default_target()
    text = render()
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            print(f"{target} is stale: run `python -m rag.core.configdoc`", file=sys.stderr)
            return 1
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
