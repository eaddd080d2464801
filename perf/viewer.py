"""`transferlab view` on a store of 100,000 long completions: page times and the server's memory.

Run from the repository root:

    .venv/bin/python perf/viewer.py                         # builds /tmp/transferlab-viewer-bench.db once
    .venv/bin/python perf/viewer.py --completions 20000     # a smaller store, quicker

The store is built through the public Store API, as a study would fill it: a base and a tuned model
(recorded as a study pair), twelve benchmarks, k=4 samples, each completion a reasoning output of
about 1,000 words (``<think>...</think>`` then an answer with ``\\boxed{}``), scored with the thinking
and the answer stored beside the text as the scoring pipeline stores them. A rebuilt store is kept
(``--store``) and reused by the next run.

Then the real ``transferlab view`` process serves it on a free port, and this script times (wall
clock, each page read whole over HTTP, median of ``--repeats``):

- the overview's numbers: computed once per store state in the server's background thread (every
  cell's accuracy with a 2,000-resample bootstrap CI, the study's deltas and TI with CIs); then the
  overview page itself (goal: within 1 s);
- a samples page (goal: within 1 s): unfiltered, filtered by model and benchmark, by a verdict, and
  a search for a word that is nowhere (the worst case: the scan runs until its time budget);
- an item page and a "what did it forget?" page;

and samples the server's resident memory every 10 ms throughout (goal: peak under 300 MB). Each
figure is printed beside its goal, with the machine's CPU line first; then, as the peer, two of the
reads as bare SQL through Python's sqlite3, texts decoded by the store's API (no server, no
templates, and for the search every text decoded and scanned without a time budget), with the ratio
viewer / peer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil

from machine import (
    machine_line,  # perf/machine.py: the CPU flags printed with every result
)

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = ["math500", "aime24", "aime25", "olympiadbench", "gsm8k", "gpqa_diamond", "livecodebench", "acpbench", "coqa", "ifeval", "halueval", "mctaco_gen"]
WORDS = (
    "the of and to a in is we that so let check number sum then step first next since therefore value equation "
    "factor prime root square term answer case both side multiply divide add subtract compute result gives hence"
).split()
GOALS = {"page_s": 1.0, "rss_mb": 300.0}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, default=Path("/tmp/transferlab-viewer-bench.db"))
    p.add_argument("--completions", type=int, default=100_000)
    p.add_argument("--words", type=int, default=1000, help="mean words per completion")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rebuild", action="store_true")
    return p.parse_args()


def build_store(path: Path, n: int, words: int) -> None:
    """Fill ``path`` with ``n`` scored completions through the public Store API (a study of one pair)."""
    from transferlab.benchmarks import get_benchmark
    from transferlab.store import (
        CompletionRecord,
        ModelInfo,
        ScoreRecord,
        Store,
        completion_key,
    )
    from transferlab.study import parse_spec
    from transferlab.study.run import expected_gen_key, record_model_key, record_study

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    k = 4
    items = n // (2 * len(BENCHMARKS) * k)
    spec = parse_spec(
        {
            "name": "bench",
            "benchmarks": BENCHMARKS,
            "generation": {"samples": k, "temperature": 0.7, "max_new_tokens": 4096},
            "models": [{"name": "base", "path": "/nowhere/base"}, {"name": "tuned", "path": "/nowhere/tuned", "base": "base", "training": "RL"}],
        }
    )
    rng = np.random.default_rng(0)
    vocab = np.array(WORDS)
    started = time.monotonic()
    with Store(path) as store:
        record_study(store, spec)
        for m, rate in zip(spec.models, (0.45, 0.55)):
            key = store.add_model(ModelInfo(m.name, fingerprint="0" * 16))
            record_model_key(store, spec, m, key)
            for b in BENCHMARKS:
                bench = get_benchmark(b)
                gk = expected_gen_key(bench, spec.generation_for(b))
                store.add_gen_config(gk, spec.generation_for(b).to_dict())
                prompts = {i: f"Problem {b} {i}: " + " ".join(vocab[rng.integers(0, len(vocab), 60)]) for i in range(items)}
                hashes = store.add_prompts(prompts.values())
                for start in range(0, items, 100):
                    recs, scores = [], []
                    for i in range(start, min(items, start + 100)):
                        for s in range(k):
                            length = int(rng.integers(words // 2, words * 3 // 2))
                            thinking = " ".join(vocab[rng.integers(0, len(vocab), length)])
                            answer = f"So the answer is \\boxed{{{int(rng.integers(0, 100))}}}."
                            truncated = rng.random() < 0.05
                            text = f"<think>{thinking}" + ("" if truncated else f"</think>{answer}")
                            ck = completion_key(key, b, f"q{i}", hashes[prompts[i]], gk, s)
                            recs.append(
                                CompletionRecord(
                                    ck, key, b, f"q{i}", hashes[prompts[i]], gk, 0, s, text, "length" if truncated else "stop", 80, length * 13 // 10
                                )
                            )
                            right = float(not truncated and rng.random() < rate)
                            scores.append(
                                ScoreRecord(ck, bench.scorer, right, "ok", "42", thinking, "" if truncated else answer, "unclosed" if truncated else "closed")
                            )
                    store.add_completions(recs)
                    store.put_scores(scores)
        count = store.count_completions()
    size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    print(f"built {count:,} completions in {time.monotonic() - started:.0f} s: {size / 1e6:,.0f} MB", flush=True)


class RSS(threading.Thread):
    """Samples a process's resident memory every 10 ms; ``peak`` in bytes."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.01)


def get(url: str) -> tuple[float, str]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read().decode()
    return time.monotonic() - started, body


def timed(url: str, repeats: int) -> tuple[float, str]:
    results = [get(url) for _ in range(repeats)]
    return statistics.median(t for t, _ in results), results[-1][1]


def start_server(store: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "transferlab.cli", "view", "--store", str(store), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline()  # type: ignore[union-attr]
    found = re.search(r"http://[^/ ]+", line)
    if not found:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, found.group(0)


def bare_sql(store: Path, model: str, repeats: int) -> dict[str, float]:
    """The peer: the same reads without the viewer (no web server, no templates, no verdict join):
    bare SQL through Python's sqlite3, texts decoded by the store's API (they are stored compressed,
    docs/store.md), median seconds of ``repeats``, keyed by the viewer page they match."""
    import sqlite3

    from transferlab.store import Store

    reader = Store(store, readonly=True)
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)

    def first_page() -> None:
        keys = [r[0] for r in conn.execute("SELECT key FROM completions WHERE model_key = ? AND benchmark = ? ORDER BY rowid LIMIT 50", (model, "gsm8k"))]
        _ = [text[:240] for text in reader.texts(keys).values()]

    def whole_search() -> None:  # the whole scan: every text decoded and matched
        _ = sum("zebracorn" in c.text.lower() for c in reader.iter_completions())

    try:
        out = {}
        for name, read in (("samples: model + benchmark", first_page), ("samples: search, no match (scan budget)", whole_search)):
            times = []
            for _ in range(repeats):
                started = time.monotonic()
                read()
                times.append(time.monotonic() - started)
            out[name] = statistics.median(times)
        return out
    finally:
        conn.close()
        reader.close()


def main() -> None:
    args = parse_args()
    print(machine_line(), flush=True)
    if args.rebuild or not args.store.exists():
        build_store(args.store, args.completions, args.words)
    proc, base = start_server(args.store)
    rss = RSS(proc.pid)
    rss.start()
    rows = []
    try:
        started = time.monotonic()
        for marker, name in (
            ("results-table", "overview: results table ready (background, once per store state)"),
            ('id="pair-deltas"', "overview: study groups and TI ready (background, once per store state)"),
        ):
            while marker not in get(base + "/")[1]:
                if time.monotonic() - started > 1800:
                    raise SystemExit(f"{name}: not within 1800 s")
                time.sleep(0.5)
            rows.append((name, time.monotonic() - started, None))
        model = "tuned@" + "0" * 16
        pages = [
            ("overview page", "/"),
            ("samples: first page", "/samples"),
            ("samples: model + benchmark", f"/samples?model={model}&benchmark=gsm8k"),
            ("samples: verdict truncated", "/samples?verdict=truncated"),
            ("samples: verdict wrong, one benchmark", "/samples?verdict=wrong&benchmark=ifeval"),
            ("samples: search, no match (scan budget)", "/samples?search=zebracorn"),
            ("item page (2 models x 4 samples)", "/item?benchmark=gsm8k&id=q7"),
            ("what did it forget? (gsm8k)", "/changes?kind=forgot&benchmark=gsm8k"),
        ]
        notes = {}
        for name, path in pages:
            seconds, body = timed(base + path, args.repeats)
            goal = GOALS["page_s"] if name.startswith(("overview page", "samples")) else None
            rows.append((name, seconds, goal))
            scan = re.search(r"scan stopped after [\d.]+ s</strong> at #(\d+) of (\d+)|scanned to #(\d+) of (\d+)", body)
            if scan:
                notes[name] = scan.group(0).replace("</strong>", "")
    finally:
        rss.stop.set()
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\nstore: {args.store} ({args.store.stat().st_size / 1e6:,.0f} MB)\n")
    print("| what | seconds | goal |\n|---|---|---|")
    for name, seconds, goal in rows:
        verdict = "" if goal is None else (f"≤ {goal:.0f} s: {'met' if seconds <= goal else 'MISSED'}")
        extra = f" ({notes[name]})" if name in notes else ""
        print(f"| {name}{extra} | {seconds:.3f} | {verdict} |")
    peak = rss.peak / 2**20
    print(f"| server peak RSS (MiB) | {peak:.0f} | < {GOALS['rss_mb']:.0f} MiB: {'met' if peak < GOALS['rss_mb'] else 'MISSED'} |")
    peers = bare_sql(args.store, model, args.repeats)
    print("\n| viewer page | seconds | peer: bare SQL in Python's sqlite3 | seconds | viewer / peer |\n|---|---|---|---|---|")
    for name, seconds, _ in rows:
        if name in peers:
            print(f"| {name} | {seconds:.3f} | the same read, no server, no verdicts | {peers[name]:.4f} | {seconds / peers[name]:.2f}x |")
    print(json.dumps({"rows": [(n, round(s, 4)) for n, s, _ in rows], "peak_rss_mib": round(peak, 1), "peers": {k: round(v, 4) for k, v in peers.items()}}))


if __name__ == "__main__":
    main()
