"""Transfer during training, end to end on the tiny model: real SFT that keeps a checkpoint every 3
steps, each checkpoint loaded and evaluated on real benchmarks through the store, the report's
trajectory and drift figures; a rerun generates nothing; a study over two training seeds."""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml

from conftest import run_cli
from transferlab.models import model_fingerprint

pytestmark = pytest.mark.slow

BENCHMARKS = "gsm8k,math500,headqa,headqa_gen,halueval,mctaco"  # two per group; headqa and mctaco by log-likelihood
SIGMA = "math=10,other=5,non=5"


def sft_data(shared_data, path, n=16):
    from transferlab.train.data import load_prompts

    rows = [
        {"prompt": p.messages(), "completion": [{"role": "assistant", "content": f"The answer is \\boxed{{{p.answer}}}."}]}
        for p in load_prompts("math_train", shared_data, limit=n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def train(tiny_model, data, out, *extra):
    done = run_cli("train", "sft", "--base", str(tiny_model), "--data", str(data), "--preset", "tiny", "--out", str(out), "--quiet", *extra, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def trained(tiny_model, shared_data, tmp_path_factory):
    """The tiny SFT preset (8 steps) keeping a checkpoint every 3 steps: checkpoints 3, 6 and 8 (the end)."""
    root = tmp_path_factory.mktemp("trajectory")
    data = sft_data(shared_data, root / "sft.jsonl")
    return train(tiny_model, data, root / "sft", "--save-every", "3"), data


def completions(store):
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT count(*) FROM completions").fetchone()[0], {r[0] for r in db.execute("SELECT model_key FROM models")}
    finally:
        db.close()


def trajectory_cmd(ckpt, store, out, shared_data):
    return (
        "trajectory", "--checkpoints", str(ckpt), "--benchmarks", BENCHMARKS, "--store", str(store), "--out", str(out),
        "--limit", "6", "--data-dir", str(shared_data), "--max-new-tokens", "12", "--device", "cpu", "--dtype", "float32",
        "--batch-size", "8", "--drift-n", "3", "--resamples", "200", "--sigma", SIGMA, "--quiet",
    )  # fmt: skip


@pytest.mark.timeout(1200)
def test_every_checkpoint_is_a_model_evaluated_through_the_store_and_drawn(trained, tiny_model, shared_data, tmp_path):
    from transferlab.backends import BackendOptions, load_backend

    ckpt, _ = trained
    folders = sorted(ckpt.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert [p.name for p in folders] == ["checkpoint-3", "checkpoint-6", "checkpoint-8"]  # every one kept, the last at the end
    for folder in folders:  # each a model with its tokenizer and chat template
        backend = load_backend(str(folder), BackendOptions(device="cpu", dtype="float32"))
        assert backend.tokenizer.chat_template and backend.model.key == f"{folder.name}@{model_fingerprint(folder)}"
    assert model_fingerprint(folders[-1]) == model_fingerprint(ckpt)  # the last checkpoint is the finished model

    store, out = tmp_path / "runs.db", tmp_path / "traj"
    done = run_cli(*trajectory_cmd(ckpt, store, out, shared_data), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "First step significantly below the base" in done.stdout
    n, keys = completions(store)
    # the last checkpoint is read from the run's folder (same weights): it shares the finished model's key
    finished = f"{ckpt.name}@{model_fingerprint(ckpt)}"
    assert keys == {f"{tiny_model.name}@{model_fingerprint(tiny_model)}", *(f"{p.name}@{model_fingerprint(p)}" for p in folders[:-1]), finished}

    result = json.loads((out / "trajectory.json").read_text())
    run = result["runs"]["sft"]
    assert run["training"] == "SFT" and run["final_step"] == 8 and result["sigma"] == {"math": 10.0, "other": 5.0, "non": 5.0}
    assert [p["step"] for p in run["points"]] == [0, 3, 6, 8]
    for p in run["points"][1:]:
        assert set(p["accuracy"]) == set(p["delta"]) == set(p["p_holm"]) == {"math", "other", "non"}
        for g in ("math", "other", "non"):
            value, low, high = p["accuracy"][g]
            assert 0 <= low <= value <= high <= 100
            assert p["p_value"][g] <= p["p_holm"][g] <= 1
        assert set(p["ti"]) == {"other", "non"}
    assert set(run["first_drop"]) == {"math", "other", "non"}
    assert all(step is None or step in (3, 6, 8) for step in run["first_drop"].values())

    drift = [json.loads(p.read_text()) for p in sorted((out / "drift").glob("drift__*.json"))]
    assert sorted(d["model"] for d in drift) == ["sft-step3", "sft-step6", "sft-step8"]
    assert all(d["exact_kl"] >= 0 and d["pca_shift"] >= 0 for d in drift)
    assert json.loads((out / "drift_transfer.json").read_text())["correlations"]["delta_non~exact_kl"]["n"] == 3
    page = (out / "report" / "index.html").read_text()
    assert "Transfer during training" in page and "Drift against transfer" in page
    for name in ("trajectory", "drift_transfer"):
        assert (out / "report" / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = run_cli(*trajectory_cmd(ckpt, store, out, shared_data), timeout=900)  # resumes: nothing generated again
    assert again.returncode == 0, again.stderr[-3000:]
    assert completions(store) == (n, keys)
    assert json.loads((out / "trajectory.json").read_text()) == result


@pytest.mark.timeout(1200)
def test_a_study_over_two_training_seeds_shows_the_spread_between_them(trained, tiny_model, shared_data, tmp_path):
    ckpt, data = trained
    other_seed = train(tiny_model, data, tmp_path / "sft-seed1", "--set", "seed=1")
    spec = {
        "name": "seeds",
        "models": [{"name": "base", "path": str(tiny_model)}, {"name": "sft", "base": "base", "training": "SFT", "seeds": {0: str(ckpt), 1: str(other_seed)}}],
        "benchmarks": BENCHMARKS.split(","),
        "generation": {"max_new_tokens": 12},
        "backend": {"device": "cpu", "dtype": "float32", "batch_size": 8},
        "limit": 6,
        "data_dir": str(shared_data),
        "ti": {"version": "v1"},
    }
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(spec))
    store = tmp_path / "runs.db"
    done = run_cli("study", "run", str(path), "--store", str(store), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    shown = run_cli("seeds", "--store", str(store), "--json", "--resamples", "200", timeout=300)
    assert shown.returncode == 0, shown.stderr[-3000:]
    group = json.loads(shown.stdout)["groups"]["sft"]
    assert group["seeds"] == ["sft-seed0", "sft-seed1"] and group["seed_numbers"] == [0, 1]
    for g in ("math", "other", "non"):
        spread = group["group_delta"][g]
        assert len(spread["per_seed"]) == 2 and spread["mean"] == pytest.approx(sum(spread["per_seed"]) / 2)
        assert spread["items_ci"][0] <= spread["items_ci"][1] and spread["hierarchical_ci"][0] <= spread["hierarchical_ci"][1]
    table = run_cli("seeds", "--store", str(store), "--resamples", "200", timeout=300)
    assert table.returncode == 0 and "Seed group sft" in table.stdout and "SD between seeds" in table.stdout

    report = run_cli("report", "--store", str(store), "--out", str(tmp_path / "report"), "--resamples", "200", timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "Seeds: the spread between trainings" in (tmp_path / "report" / "index.html").read_text()
    assert (tmp_path / "report" / "figures" / "seeds.png").is_file()


def test_save_every_and_checkpoints_are_checked_before_anything_runs(tiny_model, tmp_path):
    bad = run_cli(
        "train", "sft", "--base", str(tiny_model), "--data", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "o"), "--save-every", "0", timeout=120
    )
    assert bad.returncode == 2 and "argument --save-every: '0' is not a whole number of at least 1" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    none = run_cli("trajectory", "--checkpoints", str(empty), "--benchmarks", "gsm8k", "--store", str(tmp_path / "s.db"), timeout=120)
    assert none.returncode == 2 and "holds no checkpoint-STEP folder" in none.stderr
    assert not (tmp_path / "s.db").exists()
    for option, value, words in (
        ("--drift-n", "-1", "a whole number of at least 0"),
        ("--resamples", "0", "a whole number of at least 1"),
        ("--alpha", "nan", "a finite number above 0"),
    ):
        bad = run_cli("trajectory", "--checkpoints", str(empty), "--benchmarks", "gsm8k", "--store", str(tmp_path / "s.db"), option, value, timeout=120)
        assert bad.returncode == 2 and f"argument {option}: '{value}' is not {words}" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.db").exists()
