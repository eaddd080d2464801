"""vLLM backend overhead: transferlab's vLLM backend vs vLLM's own ``LLM.generate`` on the same
engine and the same requests (goal: at most 2% slower), and vs transferlab's Hugging Face backend.

Run from the repository root with any python: it re-runs itself in the vLLM venv (built on first
use by scripts/vllm-venv.sh) when ``vllm`` does not import:

    .venv/bin/python perf/vllm_overhead.py
    .venv/bin/python perf/vllm_overhead.py --model tiny --items 64 --samples 4 --max-new-tokens 64

Every path generates the very same completions: GSM8K items rendered with the model's chat
template, ``--samples`` per item at temperature 0.7 with one seed per sample (as ``transferlab
eval`` asks), ``--max-new-tokens`` each, in float32:

- vllm: ``LLM.generate(prompts, [SamplingParams(seed=...) ...])`` with the prompts as token ids,
  on the very engine the backend holds (started once, warmed up);
- transferlab: ``VLLMBackend.generate`` (tokenizing, one request per sample, stepping the engine,
  decoding each completion here), every completion consumed as it is yielded;
- transferlab+store: ``run_eval`` into a fresh store (planning, keys, one commit per group);
- hf: ``HFBackend.generate`` on the same jobs (``--hf-items`` of them: it is much slower).

Each vLLM path is timed ``--repeats`` times in alternating order; median wall and CPU seconds, the
best wall time, completions/s, output tokens/s and the ratios are printed with the CPU's vector
flags. With ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` the engine runs in this process, so CPU seconds
count all the work and are the steadiest measure on a shared machine. Output
tokens differ by the end-of-sequence tokens, which vLLM counts and transferlab does not store. The
machine may be shared: compare paths only within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from machine import machine_line  # noqa: E402 - perf/machine.py: the CPU flags printed with every result


def in_vllm_venv() -> None:
    """Re-run this script in the vLLM venv when ``vllm`` does not import here."""
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        return
    import vllm_venv  # tests/vllm_venv.py

    python = vllm_venv.venv_python()
    print(f"vllm does not import here; re-running in {python}", file=sys.stderr)
    sys.exit(subprocess.call([str(python), __file__, *sys.argv[1:]], env=vllm_venv.checkout_env()))


def model_path(name: str) -> str:
    from transferlab.models import build_tiny_model, smollm2_path

    if name == "smollm2":
        return str(smollm2_path())
    if name == "tiny":
        return str(build_tiny_model(Path(tempfile.mkdtemp()) / "tiny-h128", hidden_size=128))
    return name


def plan(backend: Any, items: int, samples: int, tokens: int, data_dir: Path | None) -> tuple[Any, Any, list[Any]]:
    """(benchmark, config, jobs): what every path generates."""
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.pipeline.generate import plan_benchmark
    from transferlab.spec import GenerationConfig
    from transferlab.store import Store

    config = GenerationConfig(samples=samples, temperature=0.7, top_p=1.0, max_new_tokens=tokens, seed=11)
    benchmark = parse_benchmarks("gsm8k")[0]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "plan.db") as store:
        planned = plan_benchmark(backend, store, benchmark, config, data_dir=data_dir, limit=items)
    return benchmark, planned.config, planned.jobs


def run_vllm(backend: Any, jobs: list[Any], config: Any) -> int:
    """vLLM's own offline API on the backend's engine; returns the output tokens."""
    from vllm import SamplingParams

    encoded = backend._encode([j.prompt for j in jobs], add_special_tokens=not config.chat_template)
    prompts = [{"prompt_token_ids": ids} for ids, job in zip(encoded, jobs) for _ in job.slots]
    params = [
        SamplingParams(
            n=1, max_tokens=config.max_new_tokens, temperature=config.temperature, top_p=config.top_p, seed=slot.seed, stop=list(config.stop) or None
        )
        for job in jobs
        for slot in job.slots
    ]
    outputs = backend._engine.llm.generate(prompts, params, use_tqdm=False)
    return sum(len(o.outputs[0].token_ids) for o in outputs)


def run_backend(backend: Any, jobs: list[Any], config: Any) -> int:
    return sum(c.completion_tokens for group in backend.generate(jobs, config) for _, c in group)


def run_store(backend: Any, benchmark: Any, config: Any, items: int, data_dir: Path | None) -> int:
    from transferlab.pipeline.generate import run_eval
    from transferlab.store import Store

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "runs.db") as store:
        run_eval(backend, [benchmark], config, store, data_dir=data_dir, limit=items, show_progress=False)
        return sum(r.completion_tokens or 0 for r in store.completions(model_key=backend.model.key, benchmark=benchmark.name))


def timed_run(fn: Any) -> tuple[float, float, int]:
    """(wall seconds, this process's CPU seconds, output tokens) of one run of ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="smollm2 (SmolLM2-135M-Instruct), tiny (the test model, head size 32), or a folder")
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hf-items", type=int, default=8, help="items the (slow) HF backend generates; 0 skips it")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TRANSFERLAB_SHARED_DATA", REPO.parent / "shared" / "data")))
    args = parser.parse_args()
    in_vllm_venv()
    print(machine_line())
    import torch

    from transferlab.backends.hf import HFBackend
    from transferlab.backends.vllm import VLLMBackend

    model = model_path(args.model)
    started = time.perf_counter()
    backend = VLLMBackend(model, dtype="float32")
    benchmark, config, jobs = plan(backend, args.items, args.samples, args.max_new_tokens, args.data_dir)
    run_backend(backend, jobs[:2], config)  # starts and warms the engine
    print(f"engine start + warm-up: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    n = sum(len(j.slots) for j in jobs)
    paths = {
        "vllm": lambda: run_vllm(backend, jobs, config),
        "transferlab": lambda: run_backend(backend, jobs, config),
        "transferlab+store": lambda: run_store(backend, benchmark, config, args.items, args.data_dir),
    }
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in paths}
    for r in range(args.repeats):  # alternate the order
        for name in list(paths) if r % 2 == 0 else list(reversed(paths)):
            results[name].append(timed_run(paths[name]))
    where = "in this process" if os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == "0" else "in its own process (CPU seconds: this process only)"
    print(f"torch threads {torch.get_num_threads()}")
    print(
        f"model {args.model}, {args.items} GSM8K items x {args.samples} samples = {n} completions, <= {args.max_new_tokens} tokens, float32, "
        f"{args.repeats} runs each, engine {where}"
    )
    stats = {name: [statistics.median(run[i] for run in runs) for i in (0, 1)] + [min(run[0] for run in runs), runs[-1][2]] for name, runs in results.items()}
    for name, (wall, cpu, best, tokens) in stats.items():
        print(
            f"  {name:18s} median {wall:6.2f} s wall, {cpu:6.2f} s CPU; best {best:6.2f} s  {n / wall:7.1f} completions/s  {tokens / wall:8.1f} tokens/s ({tokens} tokens)"
        )
    for i, kind in ((0, "median wall"), (1, "median CPU"), (2, "best wall")):
        base = stats["vllm"][i]
        print(
            f"  overhead vs LLM.generate ({kind}): transferlab {100 * (stats['transferlab'][i] / base - 1):+.1f}%, with the store {100 * (stats['transferlab+store'][i] / base - 1):+.1f}%"
        )
    if args.hf_items:
        hf = HFBackend(model, device="cpu", dtype="float32")
        few = jobs[: args.hf_items]
        m = sum(len(j.slots) for j in few)
        hf_secs, _, hf_tokens = timed_run(lambda: run_backend(hf, few, config))
        ours_secs, _, ours_tokens = timed_run(lambda: run_backend(backend, few, config))
        print(
            f"  hf backend ({m} completions) {hf_secs:.2f} s, {hf_tokens / hf_secs:.1f} tokens/s; vLLM backend on the same {ours_secs:.2f} s, "
            f"{ours_tokens / ours_secs:.1f} tokens/s: vLLM {hf_secs / ours_secs:.2f}x faster (completions/s)"
        )
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
