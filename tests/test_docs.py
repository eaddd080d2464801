"""The documentation names real things: the README's layout is the tree, the paper index's functions exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "transferlab"
PY = re.compile(r"(?<![\w-])[a-z_0-9][a-z_0-9-]*\.(?:py|sh)\b")  # vllm-venv.sh whole, not its tail


def _layout_entries() -> tuple[dict[str, str], dict[str, str]]:
    """The README's layout block as ``{name: text}`` for the package's entries and for the repository's."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1]
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
            assert set(PY.findall(text)) == modules, f"{name}: the README lists {sorted(set(PY.findall(text)))}, the folder holds {sorted(modules)}"
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
