"""A benchmark plugin: examples/plugin pip-installed into a temporary folder, found through its
``transferlab.benchmarks`` entry point, evaluated with the tiny model, scored and tabulated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed by pip (no build isolation, no dependencies: offline) into a folder."""
    target, source = tmp_path_factory.mktemp("plugin-site"), tmp_path_factory.mktemp("plugin-source") / "plugin"
    shutil.copytree(EXAMPLE, source)  # setuptools builds inside the source folder: not in the repository
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(target.glob("transferlab_wordcount-0.1.0.dist-info"))
    return target


def transferlab(plugin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "transferlab.cli", *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.timeout(900)
def test_installed_plugin_is_evaluated_scored_and_tabulated(plugin_path, tiny_model, tmp_path):
    store = tmp_path / "s.db"
    # Not installed: an unknown name, in one line.
    missing = subprocess.run(
        [sys.executable, "-m", "transferlab.cli", "eval", "--model", str(tiny_model), "--benchmarks", "wordcount", "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 2 and "unknown benchmark 'wordcount'" in missing.stderr

    done = transferlab(plugin_path, "eval", "--model", str(tiny_model), "--benchmarks", "wordcount,gsm8k", "--limit", "2", "--store", str(store),
                       "--max-new-tokens", "4", "--quiet", "--dtype", "float32", "--data-dir", str(Path(os.environ.get("TRANSFERLAB_SHARED_DATA", EXAMPLE.parents[2] / "shared" / "data"))))  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # The right answers, imported, score 100 through the plugin's own scorer.
    answers = tmp_path / "a.jsonl"
    words = {"s1": "6", "s2": "There are 5 words.", "s3": "7"}
    answers.write_text(
        "".join(json.dumps({"model": "right", "benchmark": "wordcount", "item_id": i, "prompt": "p", "response": a}) + "\n" for i, a in words.items())
    )
    imported = transferlab(plugin_path, "import", str(answers), "--store", str(store))
    assert imported.returncode == 0, imported.stderr
    assert transferlab(plugin_path, "score", "--store", str(store), "--only-unscored").returncode == 0
    table = transferlab(plugin_path, "results", "--store", str(store), "--json")
    cells = {(r["model"].split("@")[0], r["benchmark"]): r for r in json.loads(table.stdout)}
    assert cells[("right", "wordcount")]["accuracy"] == 100.0 and cells[("right", "wordcount")]["group"] == "non"
    tiny = next(c for (m, b), c in cells.items() if b == "wordcount" and m != "right")
    assert tiny["items"] == 2 and tiny["unscored"] == 0
