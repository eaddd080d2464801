"""`transferlab view` as a real process on a real store, in a real browser (Debian's chromium).

The store: a study run through the real pipeline (the shipped mini-world base and a perturbed copy
of it as the "tuned" model, three families, real scorers), one hostile completion added through
the store's API and scored, and `drift tokens` run on it. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
from pathlib import Path

import pytest

from browser import browser_page, fetch, require_browser, screenshot, viewer_server
from conftest import run_cli
from transferlab.pipeline.results import results
from transferlab.store import CompletionRecord, Store, completion_key

HOSTILE = (
    "Let me think.\n<script>window.__pwned = 1; document.title = 'pwned'</script>\n"
    '<img src=x onerror="window.__pwned = 2"> so the answer is \\boxed{7} pwnedmarker'
)
FAMILIES = ["world_arith", "world_plan", "world_format"]  # one per group: math, other, non


def perturbed_copy(src: Path, dst: Path, scale: float = 0.08, seed: int = 1) -> Path:
    """A copy of a checkpoint with Gaussian noise on every weight: another model, the same tokenizer."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    gen = torch.Generator().manual_seed(seed)
    for f in dst.glob("*.safetensors"):
        tensors = load_file(f)
        save_file({k: v + scale * torch.randn(v.shape, generator=gen) for k, v in tensors.items()}, f, metadata={"format": "pt"})
    return dst


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(store path, drift folder, hostile completion key, its item id) built through the real commands."""
    from transferlab.world import base_model_path

    root = tmp_path_factory.mktemp("view")
    base = root / "base"
    shutil.copytree(base_model_path(), base)
    tuned = perturbed_copy(base, root / "tuned")
    spec = {
        "name": "viewtest",
        "models": [{"name": "base", "path": str(base), "training": "base"}, {"name": "tuned", "path": str(tuned), "base": "base", "training": "SFT"}],
        "benchmarks": FAMILIES,
        "generation": {"samples": 1, "temperature": 0.0, "max_new_tokens": 24},
        "backend": {"kind": "hf", "dtype": "float32", "batch_size": 8, "device": "cpu"},
        "limit": 12,
    }
    (root / "study.json").write_text(json.dumps(spec))
    db = root / "runs.db"
    done = run_cli("study", "run", str(root / "study.json"), "--store", str(db), "--quiet", timeout=600)
    assert done.returncode == 0, done.stderr
    with Store(db) as store:
        first = next(c for c in store.completions(benchmark="world_arith") if c.model_key.startswith("tuned"))
        key = completion_key(first.model_key, first.benchmark, first.item_id, first.prompt_hash, first.gen_key, 1)
        store.add_completions(
            [CompletionRecord(key, first.model_key, first.benchmark, first.item_id, first.prompt_hash, first.gen_key, first.seed, 1, HOSTILE, "stop", 5, 40)]
        )
    scored = run_cli("score", "--store", str(db), "--only-unscored", timeout=300)
    assert scored.returncode == 0, scored.stderr
    drift = root / "drift"
    out = run_cli(
        "drift",
        "tokens",
        "--base",
        str(base),
        "--tuned",
        str(tuned),
        "--store",
        str(db),
        "--benchmarks",
        "world_arith",
        "--n",
        "6",
        "--out",
        str(drift),
        "--max-new-tokens",
        "24",
        "--device",
        "cpu",
        "--quiet",
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return db, drift, key, first.item_id


@pytest.fixture(scope="module")
def server(world):
    require_browser()
    db, drift, _, _ = world
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with viewer_server("--store", str(db), "--drift", str(drift)) as (url, proc):
        yield url
    assert proc.returncode is not None
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # read-only: the store file is unchanged


def wait_overview(page, url):
    page.goto(url + "/")
    page.wait_for_selector("#results-table", timeout=120_000)  # the page reloads itself until the numbers are ready
    page.wait_for_selector("#pair-deltas", timeout=120_000)  # then until the study's bootstraps are


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_overview_to_samples_to_item(server, world):
    db = world[0]
    with browser_page() as page:
        wait_overview(page, server)
        screenshot(page, "viewer-overview")
        with Store(db, readonly=True) as store:
            expected = {(r.model, r.benchmark): r for r in results(store)}
        # every cell shows the library's accuracy and interval
        for (model, bench), r in expected.items():
            cell = page.locator(f'a.acc[href*="model={model.replace("@", "%40")}"][href*="benchmark={bench}&"]').first
            assert cell.inner_text() == f"{r.accuracy:.1f}"
        assert page.locator("#study-1 table").count() >= 2  # group summary and transfer table first
        assert page.locator("#study-1").bounding_box()["y"] < page.locator("#results").bounding_box()["y"]
        page.locator('a.acc[href*="benchmark=world_arith"]').first.click()
        page.wait_for_selector("#samples-table")
        assert page.locator("#f-benchmark").input_value() == "world_arith"
        rows = page.locator("#samples-table tr.sample")
        assert rows.count() >= 12
        assert all(t == "world_arith" for t in rows.locator("td:nth-child(3)").all_inner_texts())
        screenshot(page, "viewer-samples")
        rows.first.locator("a.item-link").click()
        page.wait_for_selector("#columns")
        assert page.locator("#columns > section.column").count() >= 2  # base and tuned side by side
        assert page.locator("#reference").inner_text().strip()
        assert page.locator("article.sample-card").count() >= 2
        assert page.locator("details.raw").count() >= 2
        screenshot(page, "viewer-item")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_filters_and_search(server, world):
    with browser_page() as page:
        page.goto(server + "/samples")
        page.select_option("#f-benchmark", "world_arith")
        page.select_option("#f-verdict", "wrong")
        page.click("#f-apply")
        page.wait_for_selector("#samples-table")
        assert "verdict=wrong" in page.url
        tags = page.locator("#samples-table tr.sample td:nth-child(6)").all_inner_texts()
        assert tags and all("wrong" in t for t in tags)
        page.fill("#f-search", "PWNEDmarker")  # ASCII case does not matter
        page.select_option("#f-verdict", "")
        page.click("#f-apply")
        page.wait_for_selector("#samples-table")
        assert page.locator("#samples-table tr.sample").count() == 1
        assert "pwnedmarker" in page.locator("#samples-table tr.sample td.snippet").inner_text()
        page.fill("#f-search", "100%_no_such_text")  # LIKE wildcards are taken literally
        page.click("#f-apply")
        page.wait_for_selector("#no-samples")
        screenshot(page, "viewer-search-empty")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_model_output_is_text_not_markup(server, world):
    _, _, key, item_id = world
    with browser_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append("dialog"), d.dismiss()))
        page.goto(server + f"/item?benchmark=world_arith&id={item_id}")
        card = page.locator(f"#sample-{key}")
        card.locator("details.raw summary").click()
        text = card.inner_text()
        assert "<script>window.__pwned = 1;" in text and '<img src=x onerror="window.__pwned = 2">' in text
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert "pwned" not in page.title() and page.locator("img").count() == 0 and page.locator("script").count() == 0
        assert card.locator("mark.extracted").inner_text() == "7"  # the extracted answer highlighted in the text
        screenshot(page, "viewer-escaping")
        assert not errors


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_drift_colouring(server, world):
    _, drift, _, _ = world
    rows = [json.loads(line) for line in next(drift.glob("tokens__*world_arith.samples.jsonl")).read_text().splitlines()]
    row = max(rows, key=lambda r: sum(x > 3 for x in r["rank_base"]))
    with browser_page() as page:
        page.goto(server + f"/item?benchmark=world_arith&id={row['item_id']}")
        box = page.locator(f"#drift-{row['key']}")
        spans = box.locator("pre.tokens span")
        assert spans.count() == len(row["tokens"])
        classes = spans.evaluate_all("els => els.map(e => e.className)")
        expected = ["r-unshifted" if r == 1 else "r-marginal" if r <= 3 else "r-shifted" for r in row["rank_base"]]
        assert classes == expected
        colours = {c: box.locator(f"span.{c}").first.evaluate("e => getComputedStyle(e).backgroundColor") for c in set(classes)}
        assert len(set(colours.values())) == len(colours)  # each category its own colour
        assert "r-shifted" in classes  # the perturbed model's answer has tokens the base ranks below 3
        assert box.locator("table.top-shifted tbody tr").count() == min(12, classes.count("r-shifted"))
        screenshot(page, "viewer-drift")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_forgot_and_learned_lists_match_the_store(server, world):
    db = world[0]
    with Store(db, readonly=True) as store:
        keys = store.study_model_keys("viewtest")
        score = {}
        for r in store.rows(benchmark="world_format"):
            if r["scorer"] is not None and r["sample_index"] == 0:
                score[(r["model_key"], r["item_id"])] = r["score"]
    base, tuned = keys["base"], keys["tuned"]
    items = {i for _, i in score}
    forgot = sorted(i for i in items if score[(base, i)] > 0.5 >= score[(tuned, i)])
    learned = sorted(i for i in items if score[(tuned, i)] > 0.5 >= score[(base, i)])
    with browser_page() as page:
        for kind, want in (("forgot", forgot), ("learned", learned)):
            page.goto(server + f"/changes?kind={kind}&benchmark=world_format&base={base}&tuned={tuned}")
            page.wait_for_selector("#changes-table")
            got = page.locator("#changes-table a.item-link").all_inner_texts()
            assert got == want, kind
        wait_overview(page, server)
        page.locator('#pair-deltas a:text("learned")').first.click()
        page.wait_for_selector("#changes-table")
        assert page.locator("#c-kind").input_value() == "learned"


def test_read_only_get_only_and_headers(server):
    status, headers, _ = fetch(server + "/")
    assert status == 200
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    for method in ("POST", "PUT", "DELETE"):
        assert fetch(server + "/samples", method=method)[0] == 405
    assert fetch(server + "/", headers={"Host": "evil.example"})[0] == 400  # DNS rebinding
    status, _, body = fetch(server + "/samples?verdict=bogus")
    assert status == 400 and "unknown verdict 'bogus'" in html.unescape(body)
    assert fetch(server + "/item?benchmark=world_arith&id=nope")[0] == 404


@pytest.mark.timeout(120)
def test_bad_input_gives_one_line_and_exit_2(tmp_path):
    out = run_cli("view", "--store", str(tmp_path / "missing.db"), "--port", "0", timeout=60)
    assert out.returncode == 2 and re.search(r"no store at .*missing\.db", out.stderr) and len(out.stderr.strip().splitlines()) == 1
    Store(tmp_path / "ok.db").close()
    out = run_cli("view", "--store", str(tmp_path / "ok.db"), "--drift", str(tmp_path / "nowhere"), "--port", "0", timeout=60)
    assert out.returncode == 2 and "no drift folder" in out.stderr
    out = run_cli("view", "--store", str(tmp_path / "ok.db"), "--base", "b", "--port", "0", timeout=60)
    assert out.returncode == 2 and out.stderr.strip() == "transferlab: error: --base and --tuned go together; name both models of the pair, or neither"
    out = run_cli("view", "--store", str(tmp_path / "ok.db"), "--base", "b", "--tuned", "t", "--port", "0", timeout=60)
    assert out.returncode == 2 and "no model 'b' in the store" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        out = run_cli("view", "--store", str(tmp_path / "ok.db"), "--port", str(taken.getsockname()[1]), timeout=60)
    assert out.returncode == 2 and "cannot listen on 127.0.0.1" in out.stderr
