"""The report on a real store filled with synthetic scored completions (known accuracies)."""

from __future__ import annotations

import argparse
import base64
import io
import json
from html.parser import HTMLParser

import numpy as np
import pytest

from transferlab.benchmarks import get_benchmark
from transferlab.commands import report as report_command
from transferlab.commands import ti as ti_command
from transferlab.report.build import build_report
from transferlab.report.figures import FigureFile
from transferlab.report.html import Section
from transferlab.store import CompletionRecord, ModelInfo, ScoreRecord, Store, completion_key
from transferlab.study.run import expected_gen_key, record_model_key, record_study, study_for_store
from transferlab.study.spec import parse_spec
from transferlab.transfer.analysis import analyse_store
from transferlab.transfer.sigma import population_sigma
from transferlab.transfer.ti import transfer_index

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BENCHES = ["math500", "gsm8k", "aime24", "aime25"]
GROUPS = {"aime24": "other", "aime25": "non"}  # math benchmarks moved into the other groups
RATES = {  # percent correct per benchmark: RL transfers, SFT forgets on "non"
    "base": ("base", {"math500": 40, "gsm8k": 50, "aime24": 30, "aime25": 60}),
    "rl": ("RL", {"math500": 60, "gsm8k": 70, "aime24": 40, "aime25": 72}),
    "sft": ("SFT", {"math500": 62, "gsm8k": 68, "aime24": 31, "aime25": 45}),
}


def spec_dict(k=2, temperature=0.7):
    models = [{"name": "base", "path": "/nowhere/base"}]
    models += [{"name": n, "path": f"/nowhere/{n}", "base": "base", "training": t} for n, (t, _) in RATES.items() if n != "base"]
    return {
        "name": "synth",
        "models": models,
        "benchmarks": BENCHES,
        "groups": GROUPS,
        "generation": {"samples": k, "temperature": temperature, "max_new_tokens": 64},
    }


def fill_store(path, *, n_items=150, k=2, seed=0):
    """A store with every model's completions and 0/1 scores drawn at RATES, recorded as a study."""
    spec = parse_spec(spec_dict(k))
    rng = np.random.default_rng(seed)
    store = Store(path)
    record_study(store, spec)
    for m in spec.models:
        key = store.add_model(ModelInfo(m.name, fingerprint="0123456789abcdef", info={"dtype": "torch.float32"}))
        record_model_key(store, spec, m, key)
        store.add_run(f"run-{m.name}", key, BENCHES, spec.generation.to_dict(), {"transformers": "5.24"}, [])
        for b in BENCHES:
            gk = expected_gen_key(get_benchmark(b), spec.generation)
            hashes = store.add_prompts([f"{b} {i}" for i in range(n_items)])
            recs, scores = [], []
            for i in range(n_items):
                h = hashes[f"{b} {i}"]
                for s in range(k):
                    ck = completion_key(key, b, f"q{i}", h, gk, s)
                    truncated = rng.random() < 0.1
                    recs.append(CompletionRecord(ck, key, b, f"q{i}", h, gk, s, s, "x", "length" if truncated else "stop", 5, 64 if truncated else 20))
                    scores.append(ScoreRecord(ck, get_benchmark(b).scorer, float(rng.random() < RATES[m.name][1][b] / 100), "ok"))
            store.add_completions(recs)
            store.put_scores(scores)
    return store, spec


class Parsed(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.captions, self._in_caption = [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        self._in_caption = tag == "caption"

    def handle_data(self, data):
        if self._in_caption:
            self.captions.append(data)
            self._in_caption = False


def assert_png(data: bytes):
    from PIL import Image

    assert data.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "runs.db"
    store, spec = fill_store(path)
    store.close()
    return path


def test_analysis_matches_hand_computation(filled):
    with Store(filled, readonly=True) as store:
        spec, keys = study_for_store(store)
        a = analyse_store(store, spec, keys, n_resamples=400)
    scores = {m: {b: a.cells[(m, b)].accuracy for b in BENCHES} for m in RATES}
    # σ from the study's population (both tuned models), then TI v2 of each pair by the pure function.
    sigma = population_sigma(scores, [("rl", "base"), ("sft", "base")], GROUPS)
    assert a.sigma == pytest.approx(sigma)
    by_name = {p.tuned: p for p in a.pairs}
    for tuned in ("rl", "sft"):
        expected = transfer_index(scores["base"], scores[tuned], GROUPS, sigma=sigma)
        got = by_name[tuned].ti["v2"]
        assert got.point.ti == pytest.approx(expected.ti)
        v1 = transfer_index(scores["base"], scores[tuned], GROUPS, version="v1")
        assert by_name[tuned].ti["v1"].point.ti == pytest.approx(v1.ti)
        for d in by_name[tuned].deltas:
            assert d.delta == pytest.approx(scores[tuned][d.benchmark] - scores["base"][d.benchmark])
            assert d.low < d.delta < d.high and 0 <= d.p_value <= 1
    # The simulated forgetting shows: SFT's TI_non is negative with a CI below 0; RL's is positive.
    sft_non = by_name["sft"].ti["v2"]
    assert sft_non.point.ti["non"] < 0 and sft_non.ci["non"][1] < 0
    assert by_name["rl"].ti["v2"].point.ti["non"] > 0
    assert by_name["sft"].group_delta["non"][0] < -10
    cell = a.cells[("base", "math500")]
    assert cell.n_items == 150 and cell.samples_per_item == 2 and 0 < cell.truncated_rate < 25
    assert a.differences == ()


def test_report_html_markdown_and_figures(filled, tmp_path):
    extra = Section("Drift", "<p>latent shift</p>", "latent shift", (FigureFile("drift_demo", _tiny_png(), "a drift figure"),))
    with Store(filled, readonly=True) as store:
        spec, keys = study_for_store(store)
        a = analyse_store(store, spec, keys, n_resamples=200)
    index = build_report(a, tmp_path / "out", extra_sections=[extra])
    page = Parsed()
    page.feed(index.read_text(encoding="utf-8"))
    assert page.tags.count("table") >= 5 and page.tags.count("html") == 1
    assert {"Accuracy (%) per benchmark", "Transferability Index", "Change against the base (points)"} <= set(page.captions)
    assert len(page.imgs) == 1 + 2 + 1 + 1  # TI scatter, two delta bars, generation, the extra section's
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,")
        assert_png(base64.b64decode(src.split(",", 1)[1]))
    files = sorted((tmp_path / "out" / "figures").glob("*.png"))
    assert len(files) == 5
    for f in files:
        assert_png(f.read_bytes())
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| tuned | base | training method | version | TI_other | TI_non | status |" in md and "## Drift" in md and "figures/ti_scatter.png" in md
    assert "| sft | base | SFT | v2 |" in md
    assert md.index("## Summary: groups and transfer") < md.index("## Scores")  # the group summary and TI first
    assert "| tuned | base | training method | Δ math | Δ other | Δ non | TI_other v2 | TI_non v2 | status |" in md


def _tiny_png() -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2), dpi=100)
    fig.add_subplot().plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def run_cli(module, *argv):
    parser = argparse.ArgumentParser(prog="transferlab")
    module.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_ti_store_command_gives_intervals(filled, capsys):
    assert run_cli(ti_command, "ti", "--store", str(filled), "--base", "base", "--tuned", "sft", "--json", "--resamples", "300") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ti"]["non"] < 0 and out["ti_ci"]["non"][1] < 0 and out["sigma_source"]
    # Outside a study: the model keys work too, σ from the pair's own deltas.
    assert (
        run_cli(
            ti_command,
            "ti",
            "--store",
            str(filled),
            "--base",
            "base@0123456789abcdef",
            "--tuned",
            "rl@0123456789abcdef",
            "--version",
            "v1",
            "--resamples",
            "300",
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "TI_other 95% CI" in text and "Δ math500" in text


def test_report_from_csv_scores(tmp_path):
    rows = ["model,benchmark,score,group"] + [f"{m},{b},{v},{GROUPS.get(b, 'math')}" for m, (_, r) in RATES.items() for b, v in r.items()]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    assert run_cli(report_command, "report", "--scores", str(tmp_path / "s.csv"), "--pairs", "rl:base,sft:base", "--out", str(tmp_path / "r")) == 0
    md = (tmp_path / "r" / "report.md").read_text()
    assert "points only, no intervals" in md
    expected = transfer_index(
        RATES["base"][1], RATES["sft"][1], GROUPS, sigma=population_sigma({m: r for m, (_, r) in RATES.items()}, [("rl", "base"), ("sft", "base")], GROUPS)
    )
    assert f"{expected.ti['non']:+.0f}" in md
    assert_png((tmp_path / "r" / "figures" / "ti_scatter.png").read_bytes())


def test_one_pairs_ti_bootstraps_only_that_pair_and_matches_the_whole_study(filled):
    """`ti --store` for one pair bootstraps the cells of that pair only (its time does not grow with
    the study's models), yet gives the very TI, intervals and deltas of the whole study's analysis;
    the other models still count towards σ by their scores."""
    with Store(filled, readonly=True) as store:
        spec, keys = study_for_store(store, None, "synth")
        whole = analyse_store(store, spec, keys, n_resamples=300)
        one = analyse_store(store, spec, keys, n_resamples=300, only_pairs=["sft"])
    assert [p.tuned for p in one.pairs] == ["sft"] and one.sigma == whole.sigma
    assert one.pairs[0] == next(p for p in whole.pairs if p.tuned == "sft")
    for (model, bench), cell in one.cells.items():
        assert cell.accuracy == whole.cells[(model, bench)].accuracy
        if model == "rl":  # outside the pair: its score, no interval
            assert cell.low is None and cell.high is None
        else:
            assert (cell.low, cell.high) == (whole.cells[(model, bench)].low, whole.cells[(model, bench)].high)
