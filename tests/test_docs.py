"""The documentation names real things: the layout (docs/reference/layout.md) is the tree, the paper index's functions exist, the
CLI reference is the parser's, the README's links lead somewhere."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "transferlab"
PY = re.compile(r"(?<![\w-])[a-z_0-9][a-z_0-9-]*\.(?:py|sh)\b")  # vllm-venv.sh whole, not its tail


def _layout_entries() -> tuple[dict[str, str], dict[str, str]]:
    """The layout block (docs/reference/layout.md) as ``{name: text}`` for the package's entries and for the repository's."""
    text = (ROOT / "docs" / "reference" / "layout.md").read_text(encoding="utf-8").split("## Layout", 1)[1]
    block = text.split("```", 2)[1].splitlines()[1:]
    package: dict[str, str] = {}
    repository: dict[str, str] = {}
    current: dict[str, str] | None = None
    name = ""
    for line in block:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0 or indent == 2:
            name, _, rest = line.strip().partition(" ")
            current = repository if indent == 0 else package
            current[name] = rest
        else:
            assert current is not None, line
            current[name] += " " + line.strip()
    return package, repository


def test_the_readme_layout_lists_every_module_and_package_of_the_tree_and_nothing_else() -> None:
    package, repository = _layout_entries()
    assert repository.pop("src/transferlab/") == ""
    real = {p.name + "/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    real |= {p.name for p in PACKAGE.glob("*.py")}
    assert set(package) == real
    for name, text in package.items():
        if name.endswith("/"):
            modules = {p.name for p in (PACKAGE / name).glob("*.py")}
            assert set(PY.findall(text)) == modules, (
                f"{name}: docs/reference/layout.md lists {sorted(set(PY.findall(text)))}, the folder holds {sorted(modules)}"
            )
    for name, text in repository.items():
        assert (ROOT / name).is_dir(), name
        for file in PY.findall(text):
            assert (ROOT / name / file).is_file(), f"{name}{file}"


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


NAMES = sorted(set(re.findall(r"`(transferlab\.[\w.]+)`", (ROOT / "docs" / "paper_index.md").read_text(encoding="utf-8"))))


def test_the_paper_index_covers_every_section() -> None:
    text = (ROOT / "docs" / "paper_index.md").read_text(encoding="utf-8")
    assert [f"## §{n} " in text for n in (1, 2, 3, 4, 5)] == [True] * 5 and len(NAMES) > 60


@pytest.mark.parametrize("dotted", NAMES)
def test_every_name_in_the_paper_index_exists(dotted: str) -> None:
    assert _resolve(dotted) is not None


def _cli_reference() -> object:
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_the_one_the_parser_generates() -> None:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == _cli_reference().render(), "docs/cli.md is stale: run `make cli-reference` and commit it"  # type: ignore[attr-defined]


def _parsers(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}")
    return found


def test_the_cli_reference_names_every_command_option_and_default() -> None:
    from transferlab.cli import build_parser

    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sections = {m.group(1): m.start() for m in re.finditer(r"^#+ `(transferlab[^`]*)`$", page, flags=re.M)}
    starts = sorted(sections.values()) + [len(page)]
    text = {path: page[start : starts[starts.index(start) + 1]] for path, start in sections.items()}
    # Alike sub-commands share one section under a placeholder (`transferlab grade BENCHMARK`) that names each.
    shared = {path: section for path, section in text.items() if path.rsplit(" ", 1)[1].isupper()}
    parsers = _parsers(build_parser(), "transferlab")[1:]
    covered: set[str] = set()
    for path, parser in parsers:
        parent, command = path.rsplit(" ", 1)
        found = [path] if path in text else [p for p, s in shared.items() if p.rsplit(" ", 1)[0] == parent and f"`{command}`" in s.split("```", 1)[0]]
        assert len(found) == 1, f"{path} has no section"
        covered.add(found[0])
        section = text[found[0]]
        rows = [line for line in section.splitlines() if line.startswith("| `")]
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            name = action.option_strings[0] if action.option_strings else action.metavar or action.dest
            row = next((r for r in rows if f"`{name}" in r.split(" | ")[0]), None)
            assert row is not None, f"{path}: {name} is missing"
            if action.required:
                assert "*required*" in row, row
            elif action.default not in (None, [], False, argparse.SUPPRESS):
                assert f"`{action.default}`" in row, row
            if action.help and action.help is not argparse.SUPPRESS:
                expanded = argparse.HelpFormatter(path)._expand_help(action)  # %(default)s and the like filled in, as --help shows them
                assert " ".join(expanded.split()[:3]) in row.replace("\\|", "|"), row
    assert covered == set(sections), f"sections of no command: {sorted(set(sections) - covered)}"


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_link_of_the_readme_leads_to_a_file_of_the_repository() -> None:
    links = [link for link in LINK.findall((ROOT / "README.md").read_text(encoding="utf-8")) if "://" not in link]
    assert links, "the README links into docs/"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
