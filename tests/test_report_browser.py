"""The HTML report in a real browser (Debian's chromium): twelve benchmarks fit the page, the group
summary and TI come first, cells link to the viewer, empty figures are one sentence, drift figures
are embedded. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import numpy as np
import pytest

from browser import browser_page, screenshot
from transferlab.benchmarks import get_benchmark
from transferlab.drift import figures as drift_figures
from transferlab.drift import tokens
from transferlab.drift.tokens import TokenSummary
from transferlab.io import write_json_atomic as write_json
from transferlab.report.build import build_report
from transferlab.report.drift import drift_section
from transferlab.report.figures import delta_bars, generation_bars, ti_scatter
from transferlab.store import (
    CompletionRecord,
    ModelInfo,
    ScoreRecord,
    Store,
    completion_key,
)
from transferlab.study import parse_spec
from transferlab.study.run import (
    expected_gen_key,
    record_model_key,
    record_study,
    study_for_store,
)
from transferlab.transfer.analysis import analyse_store
from transferlab.transfer.scores import analyse_scores

WORLD = [
    "world_arith",
    "world_numtheory",
    "world_equation",
    "world_multipart",
    "world_plan",
    "world_trace",
    "world_deduce",
    "world_fact",
    "world_format",
    "world_read",
    "world_support",
    "world_time",
]
RATES = {"base": 40, "rl": 55, "sft": 60}  # percent right on every benchmark, so math gains and the rest move too
VIEWER = "http://127.0.0.1:8765"


def twelve_benchmark_store(path, n_items=40):
    """A study store: base, rl, sft on the twelve world families, scored 0/1, no answer truncated."""
    spec = parse_spec(
        {
            "name": "twelve",
            "benchmarks": WORLD,
            "generation": {"samples": 1, "temperature": 0.0, "max_new_tokens": 32},
            "models": [
                {"name": "base", "path": "/nowhere/base"},
                {"name": "rl", "path": "/nowhere/rl", "base": "base", "training": "RL"},
                {"name": "sft", "path": "/nowhere/sft", "base": "base", "training": "other"},
            ],
        }
    )
    rng = np.random.default_rng(0)
    with Store(path) as store:
        record_study(store, spec)
        for m in spec.models:
            key = store.add_model(ModelInfo(m.name, fingerprint="feedc0ffee"))
            record_model_key(store, spec, m, key)
            for i_b, b in enumerate(WORLD):
                gk = expected_gen_key(get_benchmark(b), spec.generation)
                hashes = store.add_prompts([f"{b} {i}" for i in range(n_items)])
                recs, scores = [], []
                for i in range(n_items):
                    ck = completion_key(key, b, f"q{i}", hashes[f"{b} {i}"], gk, 0)
                    recs.append(CompletionRecord(ck, key, b, f"q{i}", hashes[f"{b} {i}"], gk, 0, 0, "x", "stop", 5, 10 + i_b))
                    scores.append(ScoreRecord(ck, get_benchmark(b).scorer, float(rng.random() < RATES[m.name] / 100), "ok"))
                store.add_completions(recs)
                store.put_scores(scores)
    with Store(path, readonly=True) as store:
        spec, keys = study_for_store(store)
        return analyse_store(store, spec, keys, n_resamples=200)


def token_drift_folder(folder):
    """A drift folder as `drift tokens` writes it (summary JSON and figures), from synthetic ranks."""
    folder.mkdir()
    rng = np.random.default_rng(1)
    summaries = {}
    for b in ("world_arith", "world_plan"):
        samples = []
        for _ in range(5):
            n = 20
            ranks = rng.choice([1, 1, 1, 2, 5], size=n)
            samples.append(
                TokenSummary(
                    rng.integers(0, 50, n),
                    -rng.random(n).astype(np.float32),
                    -rng.random(n).astype(np.float32),
                    ranks,
                    np.ones(n, np.int64),
                    rng.random(n).astype(np.float32),
                )
            )
        summaries[b] = tokens.summarize(samples)
        write_json(
            folder / f"tokens__rl-vs-base__{b}.json",
            {"kind": "tokens", "base": "base@x", "tuned": "rl@x", "pair": "rl-vs-base", "benchmark": b, "settings": {}, "result": summaries[b]},
        )
    drift_figures.plot_token_shares(summaries, folder / "tokens__rl-vs-base__shares.png")
    drift_figures.plot_token_kl(summaries, folder / "tokens__rl-vs-base__kl.png")
    return folder


def content_fits(page) -> dict:
    return page.evaluate("""() => { const m = document.querySelector('main');
        const right = m.getBoundingClientRect().right;
        const wide = [...m.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > right + 0.5).map(t => t.querySelector('caption').innerText);
        return {scroll: m.scrollWidth, client: m.clientWidth, page: document.documentElement.scrollWidth, view: window.innerWidth, wide}; }""")


@pytest.mark.timeout(300)
def test_twelve_benchmarks_fit_and_summary_first(tmp_path):
    a = twelve_benchmark_store(tmp_path / "runs.db")
    assert len(a.benchmarks) == 12 and len(a.pairs) == 2
    index = build_report(a, tmp_path / "report", extra_sections=[drift_section(token_drift_folder(tmp_path / "drift"))], viewer_url=VIEWER)
    with browser_page(1280, 900) as page:
        page.goto(index.as_uri())
        fits = content_fits(page)
        screenshot(page, "report-twelve-benchmarks")
        assert fits["scroll"] <= fits["client"] and fits["page"] <= fits["view"] and not fits["wide"], fits
        assert page.locator("h2").first.inner_text() == "Summary: groups and transfer"
        summary = page.locator("section").first
        assert summary.locator("caption").all_inner_texts()[:2] == ["Accuracy by group (%)", "Transfer per tuned model"]
        links = page.locator("section:nth-of-type(2) table a")  # Scores: every cell links to its samples in the viewer
        assert links.count() == 12 * 3
        hrefs = links.evaluate_all("els => els.map(e => e.href)")
        assert all(h.startswith(VIEWER + "/samples?model=") for h in hrefs) and any("model=sft%40feedc0ffee&benchmark=world_time" in h for h in hrefs)
        # training labels cannot be read as group names: "other" training is "other method"
        assert "sft (other method)" in page.locator("section:nth-of-type(2) thead").inner_text()
        # no answer was truncated: the truncation panel is replaced by a sentence
        assert "no answer hit the token budget" in page.locator("#content").inner_text()
        drift_imgs = page.locator("img[alt*='Token drift']")
        assert drift_imgs.count() == 2 and all(w > 100 for w in drift_imgs.evaluate_all("els => els.map(e => e.naturalWidth)"))


@pytest.mark.timeout(300)
def test_undefined_ti_gives_a_sentence_not_an_empty_scatter(tmp_path):
    flat = {b: 50.0 for b in ("math500", "gsm8k", "aime24", "aime25")}
    a = analyse_scores({"base": flat, "tuned": dict(flat, aime25=40.0)}, [("tuned", "base")], {"aime24": "other", "aime25": "non"})
    fig = ti_scatter(a)
    assert fig.empty and "undefined for every tuned model (tuned)" in fig.caption
    index = build_report(a, tmp_path / "report")
    assert not (tmp_path / "report" / "figures" / "ti_scatter.png").exists()
    with browser_page(1280, 900) as page:
        page.goto(index.as_uri())
        note = page.locator("p.figure-note").first.inner_text()
        assert note.startswith("No TI scatter: TI v2 is undefined")
        assert page.locator("img[alt*='TI_other against TI_non']").count() == 0
        screenshot(page, "report-undefined-ti")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "_No TI scatter:" in md and "ti_scatter.png" not in md


def test_bars_follow_the_tables_order_and_zero_truncation_has_no_axis(tmp_path):
    a = twelve_benchmark_store(tmp_path / "runs.db", n_items=10)
    assert [d.benchmark for d in a.pairs[0].deltas] != list(a.benchmarks)  # the analysis sorts by name within a group
    from matplotlib.figure import Figure

    drawn: list[list[str]] = []
    original = Figure.savefig

    def spy(fig, *args, **kwargs):  # read the tick labels of the figure as it is saved
        drawn.append([t.get_text() for ax in fig.axes for t in ax.get_xticklabels()])
        return original(fig, *args, **kwargs)

    Figure.savefig = spy
    try:
        delta_bars(a)
        gen = generation_bars(a)
    finally:
        Figure.savefig = original
    assert drawn[0] == list(a.benchmarks) and drawn[1] == list(a.benchmarks)
    assert drawn[2] == ["base", "rl", "sft"]  # one panel only: tokens per answer
    assert "Not drawn: no answer hit the token budget" in gen.caption
