"""The store at paper-audit scale: build stores of 60,000 and 200,000 long completions through the
public Store API, then time each reading command in its own process and measure its peak memory.

    .venv/bin/python perf/store_scale.py --sizes 60000,200000 --dir /work/scratch/store-scale
    .venv/bin/python perf/store_scale.py --sizes 60000 --skip compression   # quicker
    .venv/bin/python perf/store_scale.py --only compression                 # zstd levels and dictionaries only

What a store holds here (issue 22's audit): 10 generative benchmarks of the paper (their real
MATH-500, AIME and OlympiadBench items; numbered items elsewhere), 10,000 completions per model (k=10
on AIME, k=3 on GPQA), base and tuned models recorded as a study, and every completion holding the
verdicts of two scorers (the default one and the paper's or the Qwen2.5-Math harness's, where it
differs; a second version of the same scorer otherwise). Each completion is 24-30 KB of real text
drawn afresh for it: ``<think>`` + model outputs and worked solutions from
``shared/data/math_generations`` and ``math500`` (math), with CoQA stories and HaluEval documents
mixed in (other benchmarks) + ``</think>`` + a model's final answer. 3% are cut at the token budget
(finish reason ``length``, thinking never closed). 0.5% of the math completions lack the default
scorer's verdict, for ``score --only-unscored``.

Each command runs as a child process of this script (``transferlab results``, ``ti --store`` with
10,000 bootstrap resamples, ``report``, ``export``, then ``score --only-unscored``); its wall time, its CPU
seconds (user + system: on a machine shared with other work, closer to what it takes alone),
its own peak RSS (``wait4``'s ``ru_maxrss``) and the peak of its process tree (sampled every 20 ms;
the math grader's worker processes) are printed beside the goals of issue 22.

Bytes per completion before and after: one model pair's worth of these completions (a tenth of
each benchmark, about 2,000) written once through the store of schema version 1 (the code that wrote
stores before issue 22, kept verbatim as ``tests/fixtures/store_v1.py``) and once through today's;
the size of each file per completion (``--skip before-after`` leaves it out).

The store's share of eval time: the store's own time per completion in the eval path (writing the
completion as the backend yields it, reading its text back for scoring, writing one verdict, and the
work-sharing leases where the store has them), timed here on the 30 KB texts, against the time a
GPU spends generating such a completion (its tokens, counted with SmolLM2's tokenizer on a sample,
at ``--gen-tokens-per-s``, default 20,000 generated tokens a second for the whole machine, which is
high for a 7B model on one H200 and so makes the share look larger, not smaller).

The compression study (``--only compression``): zstd at several levels on 2,000 such texts (each
compressed on its own, as the store does), and a dictionary trained per benchmark family. To keep the
dictionary honest, it is trained on texts composed from one half of the real pieces and measured on
texts composed from the other half, never on texts it has seen.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from machine import machine_line  # perf/machine.py: the CPU flags printed with every result

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TRANSFERLAB_SHARED_DATA", str(REPO.parent / "shared" / "data")))
TRANSFERLAB = str(Path(sys.executable).with_name("transferlab"))

# benchmark -> (items, samples per item): 10,000 completions per model, as the paper's audit settings give.
PER_MODEL = {
    "math500": (500, 1),
    "aime24": (30, 10),
    "aime25": (30, 10),
    "olympiadbench": (675, 1),
    "gpqa_diamond": (198, 3),
    "livecodebench": (1000, 1),
    "acpbench": (1900, 1),
    "coqa": (2000, 1),
    "ifeval": (541, 1),
    "halueval": (2190, 1),
}
MATH = ("math500", "aime24", "aime25", "olympiadbench")
SECOND_SCORER = {"math": "math_qwen25", "choice": "choice_paper", "coqa-f1": "coqa-f1-loo", "halueval": "halueval-first-line"}
GOAL_RSS_MB = 300
GOAL_S = {"results": 5.0, "ti": 5.0, "report": 30.0}
TEXT_KB = (24, 30)


# --- real text, composed into long completions -----------------------------------------------------------


@dataclass
class Pool:
    """Real pieces of text: ``reasoning`` (model outputs and worked solutions), ``answers`` (model
    outputs, which end in a boxed answer) and ``context`` (stories and documents)."""

    reasoning: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)

    def half(self, which: int) -> Pool:
        """Every other piece (0 or 1): two pools without a piece in common."""
        return Pool(self.reasoning[which::2], self.answers[which::2], self.context[which::2])


def load_pool(data: Path) -> Pool:
    pool = Pool()
    with open(data / "math_generations" / "math_cot_100.jsonl") as f:
        for line in f:
            row = json.loads(line)
            pool.answers += row["code"]
            pool.reasoning.append(row["solution"])
    for path in sorted((data / "math_generations" / "prime_olympiadbench").glob("*/*.jsonl")):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                pool.reasoning += row["code"]
                if "Qwen" in str(path):
                    pool.reasoning += row["solution"]
    with open(data / "math500" / "test.jsonl") as f:
        pool.reasoning += [json.loads(line)["solution"] for line in f]
    with gzip.open(data / "coqa" / "validation.jsonl.gz", "rt") as f:
        pool.context += [json.loads(line)["story"] for line in f]
    with gzip.open(data / "halueval" / "summarization_data.jsonl.gz", "rt") as f:
        for n, line in enumerate(f):
            if n >= 1500:
                break
            pool.context.append(json.loads(line)["document"])
    return pool


def compose(rng: random.Random, pool: Pool, *, math: bool, truncated: bool, answer: str) -> tuple[str, str]:
    """One completion of 24-30 KB: ``<think>`` real pieces ``</think>`` a real final answer, whose
    boxed value is replaced by ``answer``; returns (text, the boxed answer written)."""
    target = rng.randint(TEXT_KB[0] * 1024, TEXT_KB[1] * 1024)
    final = rng.choice(pool.answers)
    cut = final.rfind("\\boxed{")
    final = (final[:cut] if cut >= 0 else final) + "\\boxed{" + answer + "}"
    parts: list[str] = []
    size = len(final) + 20
    while size < target:
        source = pool.reasoning if math or rng.random() < 0.5 else pool.context
        piece = rng.choice(source)
        parts.append(piece)
        size += len(piece) + 2
    thinking = "\n\n".join(parts)[: target - len(final) - 20]
    if truncated:
        return "<think>\n" + thinking + final[: len(final) // 2], ""
    return "<think>\n" + thinking + "\n</think>\n\n" + final, answer


# --- building a store through the public API ---------------------------------------------------------------


def study_dict(n_pairs: int) -> dict[str, Any]:
    models: list[dict[str, Any]] = []
    for i in range(n_pairs):
        models.append({"name": f"base-{i}", "hf": f"perf/base-{i}", "revision": "r1", "training": "base"})
        models.append({"name": f"tuned-{i}", "hf": f"perf/tuned-{i}", "revision": "r1", "training": "RL" if i % 2 else "SFT", "base": f"base-{i}"})
    return {
        "name": "store-scale",
        "models": models,
        "benchmarks": list(PER_MODEL),
        "generation": {"samples": 1, "temperature": 0.7, "max_new_tokens": 32768, "prompt_style": "paper"},
        "generation_overrides": {
            "aime24": {"samples": 10},
            "aime25": {"samples": 10},
            "olympiadbench": {"temperature": 0.0},
            "gpqa_diamond": {"samples": 3},
            "acpbench": {"temperature": 0.0},
            "coqa": {"temperature": 0.0},
            "ifeval": {"temperature": 0.0},
        },
        "ti": {"version": "v2", "ddof": 1},
    }


@dataclass
class BuildTimes:
    add_completions_s: float = 0.0
    put_scores_s: float = 0.0
    completions: int = 0
    verdicts: int = 0
    text_bytes: int = 0


def real_items(name: str) -> list[Any]:
    from transferlab.benchmarks import REGISTRY

    return REGISTRY[name].load(DATA, None)


def build_store(path: Path, n: int, pool: Pool, seed: int = 0, *, api: Any = None, counts: dict[str, tuple[int, int]] | None = None) -> BuildTimes:
    """``n`` completions (a multiple of 20,000: pairs of models of 10,000 each) through the Store API
    (``api``: a module with the store's public names, by default ``transferlab.store``; ``counts``:
    items and samples per benchmark and model, by default :data:`PER_MODEL`)."""
    from transferlab.benchmarks import REGISTRY, scoring_variant
    from transferlab.items import Item
    from transferlab.scoring.thinking import split_thinking
    from transferlab.study.run import expected_gen_key
    from transferlab.study.spec import parse_spec

    if api is None:
        import transferlab.store as api
    CompletionRecord, ModelInfo, ScoreRecord, Store, completion_key = (
        api.CompletionRecord,
        api.ModelInfo,
        api.ScoreRecord,
        api.Store,
        api.completion_key,
    )
    table = counts or PER_MODEL
    per_model = sum(i * k for i, k in table.values())
    if n % (2 * per_model):
        raise SystemExit(f"--sizes: each size must be a multiple of {2 * per_model}")
    spec = parse_spec(study_dict(n // (2 * per_model)))
    rng = random.Random(seed)
    times = BuildTimes()
    with Store(path) as store:
        store.record_study(spec.name, spec.to_dict())
        items: dict[str, list[Item]] = {}
        prompts: dict[str, list[str]] = {}
        for b, (count, _) in table.items():
            if b in MATH:
                items[b] = real_items(b)[:count]
                texts = [
                    f"<|im_start|>user\n{i.fields.get('problem') or i.fields.get('question') or i.id}<|im_end|>\n<|im_start|>assistant\n" for i in items[b]
                ]
            else:
                items[b] = [Item(f"{b}-{j:05d}", {}, rng.choice("ABCD"), {}) for j in range(count)]
                texts = [f"<|im_start|>user\n{rng.choice(pool.context)[:2000]}\n[{b} {j}]<|im_end|>\n<|im_start|>assistant\n" for j in range(count)]
            store.add_items(b, items[b])
            hashes = store.add_prompts(texts)
            prompts[b] = [hashes[t] for t in texts]
        gen_keys = {}
        for b in table:
            config = spec.generation_for(b)
            gen_keys[b] = expected_gen_key(REGISTRY[b], config)
            store.add_gen_config(gen_keys[b], config.sampling_dict())
        for m in spec.models:
            info = ModelInfo(m.hf or m.name, m.revision)
            key = store.add_model(info)
            store.record_study_model(spec.name, m.name, key, source=m.source, training=m.training, base=m.base)
            run_id = f"run-{m.name}"
            store.add_run(run_id, key, list(table), spec.generation.to_dict(), {"python": "3"}, ["perf/store_scale.py"])
            skill = rng.uniform(0.2, 0.8)
            for b, (_, k) in table.items():
                first = scoring_variant(b).scorer
                second = SECOND_SCORER.get(first, f"{first}@previous")
                batch: list[tuple[CompletionRecord, str, bool]] = []
                for j, item in enumerate(items[b]):
                    gold = str(item.reference[0] if isinstance(item.reference, list) else item.reference)
                    for s in range(k):
                        truncated = rng.random() < 0.03
                        correct = rng.random() < skill
                        text, written = compose(rng, pool, math=b in MATH, truncated=truncated, answer=gold if correct else str(rng.randint(0, 999)))
                        times.text_bytes += len(text.encode())
                        ck = completion_key(key, b, item.id, prompts[b][j], gen_keys[b], s)
                        record = CompletionRecord(
                            ck, key, b, item.id, prompts[b][j], gen_keys[b], s, s, text, "length" if truncated else "stop", 300, len(text) // 4, run_id
                        )
                        batch.append((record, written, correct and not truncated))
                        if len(batch) == 64:
                            _commit(store, batch, first, second, times, rng, split_thinking, ScoreRecord)
                            batch = []
                _commit(store, batch, first, second, times, rng, split_thinking, ScoreRecord)
    return times


def _commit(store: Any, batch: list[Any], first: str, second: str, times: BuildTimes, rng: random.Random, split: Any, score_record: Any) -> None:
    """Write one batch as eval does: the completions, then each scorer's verdicts (with the thinking
    split as the scorer made it)."""
    if not batch:
        return
    t = time.perf_counter()
    times.completions += store.add_completions([r for r, _, _ in batch])
    times.add_completions_s += time.perf_counter() - t
    for scorer in (first, second):
        verdicts = []
        for record, written, correct in batch:
            if scorer == first and record.benchmark in MATH and rng.random() < 0.005:
                continue  # left for `score --only-unscored`
            parts = split(record.text, "think")
            score = float(correct) if scorer == first or rng.random() < 0.97 else float(not correct)
            status = "truncated_thinking" if parts.status == "unclosed" else "ok"
            details = {"finish_reason": record.finish_reason, "thinking_parser": "think"}
            verdicts.append(score_record(record.key, scorer, score, status, written or None, parts.thinking, parts.answer, parts.status, details))
        t = time.perf_counter()
        store.put_scores(verdicts)
        times.put_scores_s += time.perf_counter() - t
        times.verdicts += len(verdicts)


# --- measuring one command in its own process ---------------------------------------------------------------


@dataclass
class Measured:
    name: str
    seconds: float
    rss_mb: float  # the command's own peak (ru_maxrss)
    tree_mb: float  # the peak of the command and its children together (sampled)
    rc: int
    cpu_s: float = 0.0  # user + system CPU seconds of the command and the children it waited for
    note: str = ""


def measure(name: str, argv: list[str], *, stdout: Path | None = None) -> Measured:
    """Run ``argv`` under GNU time (its own peak RSS: ``ru_maxrss`` of a process forked from a small
    one, since a child forked from this script would inherit this script's high-water mark) while
    sampling the RSS of the whole process tree."""
    env = {**os.environ, "TRANSFERLAB_SHARED_DATA": str(DATA)}
    timing = Path(f"/tmp/store-scale-time-{os.getpid()}.txt")
    start = time.perf_counter()
    with open(os.devnull, "w") if stdout is None else open(stdout, "w") as out:
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S", "-o", str(timing), *argv], stdout=out, stderr=subprocess.PIPE, env=env)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    root = psutil.Process(proc.pid)
                    peak[0] = max(peak[0], sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]))
                except psutil.Error:
                    pass
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, stderr = proc.communicate()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    fields = timing.read_text().split()[-3:] if timing.exists() else ["0", "0", "0"]
    own_kb, cpu_s = int(fields[0]), float(fields[1]) + float(fields[2])
    timing.unlink(missing_ok=True)
    note = stderr.decode(errors="replace").strip().splitlines()[-1:] if proc.returncode else []
    return Measured(name, seconds, own_kb / 1024, max(peak[0] / 2**20, own_kb / 1024), proc.returncode, cpu_s, " ".join(note))


def run_commands(path: Path, work: Path) -> list[Measured]:
    out = []
    out.append(measure("results", [TRANSFERLAB, "results", "--store", str(path), "--json"]))
    out.append(measure("ti", [TRANSFERLAB, "ti", "--store", str(path), "--base", "base-0", "--tuned", "tuned-0", "--resamples", "10000", "--json"]))
    report = work / "report"
    out.append(measure("report", [TRANSFERLAB, "report", "--store", str(path), "--out", str(report)]))
    shutil.rmtree(report, ignore_errors=True)
    exported = work / "export.jsonl"
    out.append(measure("export", [TRANSFERLAB, "export", "--store", str(path), "--out", str(exported)]))
    if exported.exists():
        out[-1].note = f"{exported.stat().st_size / 2**30:.2f} GiB written"
        exported.unlink()
    out.append(measure("score", [TRANSFERLAB, "score", "--store", str(path), "--only-unscored"]))
    return out


# --- the store's share of eval time ------------------------------------------------------------------------


def tokens_per_byte(pool: Pool) -> float:
    from transformers import AutoTokenizer

    from transferlab.models import smollm2_path

    tok = AutoTokenizer.from_pretrained(smollm2_path())
    rng = random.Random(5)
    texts = [compose(rng, pool, math=i % 2 == 0, truncated=False, answer="42")[0] for i in range(40)]
    return sum(len(tok(t)["input_ids"]) for t in texts) / sum(len(t.encode()) for t in texts)


def read_seconds_per_completion(path: Path) -> float:
    """Reading texts back for scoring, as ``score`` does (a few thousand completions)."""
    from transferlab.store import Store

    with Store(path, readonly=True) as store:
        model = store.models()[0]["model_key"]
        t = time.perf_counter()
        got = store.completions(model_key=model, benchmark="acpbench")
        return (time.perf_counter() - t) / max(1, len(got))


def lease_seconds_per_completion(path: Path) -> float | None:
    """One claim and one release per batch of 64, as ``eval`` does when the store has leases."""
    from transferlab.store import Store

    if not hasattr(Store, "claim"):
        return None
    scratch = path.with_name("lease-timing.db")
    with Store(scratch) as store:
        keys = [f"{i:032x}" for i in range(6400)]
        t = time.perf_counter()
        for start in range(0, len(keys), 64):
            store.claim("w", keys[start : start + 64], 64, 60.0)
            store.release("w")
        took = (time.perf_counter() - t) / len(keys)
    for suffix in ("", "-wal", "-shm"):
        Path(str(scratch) + suffix).unlink(missing_ok=True)
    return took


# --- bytes per completion: the previous schema against this one -------------------------------------------


def before_after(pool: Pool, work: Path, scale: int = 10) -> None:
    """The same completions (one model pair, a ``scale``-th of each benchmark) written through the
    store of schema version 1 (``tests/fixtures/store_v1.py``: the code that wrote stores before
    issue 22, kept verbatim) and through today's; bytes per completion of each file."""
    spec = importlib.util.spec_from_file_location("store_v1", REPO / "tests" / "fixtures" / "store_v1.py")
    assert spec is not None and spec.loader is not None
    v1 = sys.modules["store_v1"] = importlib.util.module_from_spec(spec)  # registered first: its dataclasses look it up
    spec.loader.exec_module(v1)
    counts = {b: (max(1, count // scale), k) for b, (count, k) in PER_MODEL.items()}
    n = 2 * sum(c * k for c, k in counts.values())
    sizes = {}
    for name, api in (("schema 1 (before)", v1), ("schema 2 (now)", None)):
        path = work / f"before-after-{'v1' if api is v1 else 'v2'}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        times = build_store(path, n, pool, api=api, counts=counts)
        _checkpoint(path)
        sizes[name] = path.stat().st_size / n
        raw = times.text_bytes / n
        print(f"  {name}: {n:,} completions, {sizes[name] / 1024:.1f} KB per completion ({sizes[name] / raw:.2f}x its raw text of {raw / 1024:.1f} KB)")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    before, after = sizes.values()
    print(f"  bytes per completion: {before / after:.2f}x smaller than before (goal: aim at 4x or better)")


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so that its size is the store's."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- the compression study ---------------------------------------------------------------------------------


def compression_study(pool: Pool, n: int = 2000) -> None:
    import zstandard as zstd

    rng = random.Random(11)
    for family, is_math in (("math", True), ("other", False)):
        train = [compose(rng, pool.half(0), math=is_math, truncated=False, answer="7")[0].encode() for _ in range(n // 2)]
        test = [compose(rng, pool.half(1), math=is_math, truncated=False, answer="7")[0].encode() for _ in range(n // 2)]
        raw = sum(len(t) for t in test)
        print(f"  {family}: {len(test)} texts of {raw / len(test) / 1024:.1f} KB on average (UTF-8)")
        for level in (1, 3, 6, 9, 19):
            c = zstd.ZstdCompressor(level=level)
            t = time.perf_counter()
            size = sum(len(c.compress(x)) for x in test)
            took = time.perf_counter() - t
            d = zstd.ZstdDecompressor()
            frames = [c.compress(x) for x in test[:200]]
            t = time.perf_counter()
            for fr in frames:
                d.decompress(fr)
            dtook = (time.perf_counter() - t) / len(frames)
            print(f"    zstd level {level:2d}: {raw / size:5.2f}x smaller, {raw / took / 2**20:6.1f} MB/s in, {dtook * 1e6:6.1f} us to read one")
        for dict_kb in (32, 110):
            trained = zstd.train_dictionary(dict_kb * 1024, train, level=3)
            c = zstd.ZstdCompressor(level=3, dict_data=trained)
            size = sum(len(c.compress(x)) for x in test)
            print(f"    zstd level  3 with a {dict_kb} KB dictionary trained on the other half: {raw / size:5.2f}x smaller")


# --- printing ----------------------------------------------------------------------------------------------


def report_size(n: int, path: Path, times: BuildTimes, build_s: float, tokens_b: float, gen_tps: float) -> None:
    size = path.stat().st_size
    per = size / n
    raw = times.text_bytes / n
    print(f"  built in {build_s:.0f} s; file {size / 2**30:.2f} GiB; {per / 1024:.1f} KB per completion (texts {raw / 1024:.1f} KB raw UTF-8 each)")
    print(f"  bytes per completion / raw text: {per / raw:.3f} (goal: each text once, compressed; aim at <= 0.25 of the text)")
    read_s = read_seconds_per_completion(path)
    lease_s = lease_seconds_per_completion(path)
    store_s = times.add_completions_s / times.completions + times.put_scores_s / times.verdicts + read_s + (lease_s or 0.0)
    gen_s = raw * tokens_b / gen_tps
    print(
        f"  store time per completion in eval: write {1e3 * times.add_completions_s / times.completions:.2f} ms, "
        f"one verdict {1e3 * times.put_scores_s / times.verdicts:.2f} ms, read back {1e3 * read_s:.2f} ms"
        + (f", leases {1e3 * lease_s:.3f} ms" if lease_s is not None else ", no leases")
        + f" = {1e3 * store_s:.2f} ms"
    )
    print(
        f"  generating one ({raw * tokens_b:.0f} tokens at {gen_tps:.0f} tokens/s): {gen_s:.2f} s -> store share {100 * store_s / (store_s + gen_s):.3f}% "
        f"(goal < 2%; 2% only at {store_s and raw * tokens_b / (49 * store_s):.0f} tokens/s)"
    )


def print_measured(rows: list[Measured], n: int) -> None:
    print(f"  {'command':<8} {'seconds':>8} {'CPU s':>7} {'goal s':>7} {'peak RSS MB':>12} {'tree MB':>8} {'goal MB':>8}  note")
    for r in rows:
        goal_s = GOAL_S.get(r.name) if n >= 200_000 else None
        status = "" if r.rc == 0 else f"exit {r.rc}: "
        print(f"  {r.name:<8} {r.seconds:8.1f} {r.cpu_s:7.1f} {goal_s or '-':>7} {r.rss_mb:12.0f} {r.tree_mb:8.0f} {GOAL_RSS_MB:>8}  {status}{r.note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60000,200000", help="completions per store, comma-separated (multiples of 20,000)")
    parser.add_argument("--dir", type=Path, default=Path("/work/scratch/store-scale"), help="a scratch folder on a local disk (stores of GiBs)")
    parser.add_argument("--only", choices=("compression", "stores"), default=None)
    parser.add_argument("--skip", choices=("compression", "before-after"), action="append", default=[], help="leave out a part (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the stores (default: deleted after measuring)")
    parser.add_argument("--reuse", action="store_true", help="measure stores already in --dir instead of building them")
    parser.add_argument("--gen-tokens-per-s", type=float, default=20_000.0)
    parser.add_argument("--smoke", action="store_true", help="a check of this script: about 200 completions a model (--sizes then in multiples of 406)")
    args = parser.parse_args()
    if args.smoke:
        for b, (count, k) in PER_MODEL.items():
            PER_MODEL[b] = (max(1, count // 50), k)
    print(machine_line())
    print(f"python {sys.version.split()[0]}; transferlab at {REPO} ({_git_head()})")
    pool = load_pool(DATA)
    print(f"text pool: {len(pool.reasoning)} reasoning pieces, {len(pool.answers)} final answers, {len(pool.context)} stories and documents")
    if args.only != "stores" and "compression" not in args.skip:
        print("compression of one completion at a time (each text compressed on its own):")
        compression_study(pool)
    if args.only == "compression":
        return 0
    tokens_b = tokens_per_byte(pool)
    print(f"tokens per byte of text (SmolLM2's tokenizer): {tokens_b:.3f}")
    args.dir.mkdir(parents=True, exist_ok=True)
    if "before-after" not in args.skip:
        print("\nbytes per completion, the previous schema against this one (the same completions):")
        before_after(pool, args.dir)
    for n in (int(s) for s in args.sizes.split(",")):
        path = args.dir / f"store-{n}.db"
        print(f"\n== {n:,} completions ({path})")
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            t = time.perf_counter()
            times = build_store(path, n, pool)
            build_s = time.perf_counter() - t
            report_size(n, path, times, build_s, tokens_b, args.gen_tokens_per_s)
        print_measured(run_commands(path, args.dir), n)
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    return 0


def _git_head() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=True).stdout.strip()[:80]
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"


if __name__ == "__main__":
    sys.exit(main())
