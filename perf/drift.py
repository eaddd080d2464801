"""Token-drift scoring speed and memory: transferlab's batched scorer vs a naive per-sample loop.

Run from the repository root:

    .venv/bin/python perf/drift.py                      # SmolLM2-135M-Instruct, 16 samples
    .venv/bin/python perf/drift.py --model tiny --n 64  # the tiny test model, seconds
    python3 perf/drift.py --device cuda --n 64          # on a GPU machine

Both paths score the same (prompt, answer) pairs (GSM8K questions with their reference solutions
as the answers) under a base model and a tuned model (the base plus small Gaussian noise), and
produce the same per-token numbers: log-probability and rank (1 = argmax) under each model and the
exact KL(tuned || base) at every answer position.

- ours: :func:`transferlab.drift.token_scoring.score_answers`: samples sorted by length and
  batched, one forward pass per model per batch keeping only the answer positions' logits,
  reduced at once to per-token summaries (no per-token Python loop).
- naive: one sample at a time, full logits of both models, then a Python loop over the answer
  tokens (``.item()`` per token), as token-level scripts usually do.

Memory: ours runs in fresh child processes on n and on 4n samples (the same n repeated, so the
answer lengths are alike); the peak resident memory added by scoring (RSS sampled every 5 ms,
minus the RSS before scoring) must not grow with the number of samples: only one batch's logits
are alive at a time (at most ``max_positions`` rows x answer tokens), the rest are per-token
summaries of 36 bytes a token.
A markdown table comes last.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from machine import machine_line  # perf/machine.py: the CPU flags printed with every result

REPO = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2", help="smollm2, tiny, a checkpoint folder or a .gguf file")
    p.add_argument("--n", type=int, default=16, help="samples timed (memory: n and 4n)")
    p.add_argument("--batch-size", type=int, default=None, help="samples per forward pass (default: the scorer's own choice, 1 on CPU)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu or cuda (both paths, both models)")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TRANSFERLAB_DATA_DIR") or REPO.parent / "shared" / "data"))
    p.add_argument("--child-memory", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args()


def model_path(name: str) -> Path:
    if name == "smollm2":
        from transferlab.models import smollm2_path

        return smollm2_path()
    if name == "tiny":
        from transferlab.models import build_tiny_model

        folder = Path(tempfile.gettempdir()) / "transferlab-bench-tiny"
        return folder if (folder / "config.json").exists() else build_tiny_model(folder)
    from transferlab.models import resolve_model

    folder = resolve_model(name)[1]  # a checkpoint folder, or a .gguf file converted once
    if folder is None:
        raise SystemExit(f"--model {name}: give smollm2, tiny, a checkpoint folder or a .gguf file")
    return folder


def load_pair(path: Path, device: str = "cpu") -> tuple[torch.nn.Module, torch.nn.Module, object]:
    """(base, tuned = base + N(0, 0.01) noise, tokenizer), float32 on ``device``."""
    from transformers import AutoModelForCausalLM

    from transferlab.models import load_tokenizer

    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    tuned = copy.deepcopy(base)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.01)
    return base.to(device), tuned.to(device), load_tokenizer(path)


def pairs(data_dir: Path, n: int) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (data_dir / "gsm8k" / "test.jsonl").read_text().splitlines()[:n]]
    return [(f"Question: {r['question']}\nAnswer:", " " + r["answer"]) for r in rows]


def ours(base, tuned, tok, data, batch_size: int | None) -> list:
    from transferlab.drift.token_scoring import score_answers

    return score_answers(base, tuned, tok, data, add_special_tokens=True, pad_id=tok.pad_token_id or 0, batch_size=batch_size)


@torch.inference_mode()
def naive(base, tuned, tok, data) -> list[dict[str, list[float]]]:
    """One sample at a time, full logits, a Python loop over answer tokens."""
    out = []
    for prompt, answer in data:
        prompt_ids = tok(prompt)["input_ids"]
        ids = tok(prompt + answer)["input_ids"]
        start = next((i for i, (a, b) in enumerate(zip(prompt_ids, ids)) if a != b), len(prompt_ids))
        x = torch.tensor([ids], device=base.device)
        lb = torch.log_softmax(base(input_ids=x).logits[0].float(), -1)
        lt = torch.log_softmax(tuned(input_ids=x).logits[0].float(), -1)
        rec: dict[str, list[float]] = {"lp_base": [], "lp_tuned": [], "rank_base": [], "rank_tuned": [], "kl": []}
        for t in range(max(1, start), len(ids)):
            token = ids[t]
            rec["lp_base"].append(lb[t - 1, token].item())
            rec["lp_tuned"].append(lt[t - 1, token].item())
            rec["rank_base"].append(int((lb[t - 1] > lb[t - 1, token]).sum().item()) + 1)
            rec["rank_tuned"].append(int((lt[t - 1] > lt[t - 1, token]).sum().item()) + 1)
            rec["kl"].append((lt[t - 1].exp() * (lt[t - 1] - lb[t - 1])).sum().item())
        out.append(rec)
    return out


def child_memory(args: argparse.Namespace) -> None:
    """In a fresh process: peak RSS added by scoring ``args.child_memory`` samples (MiB)."""
    torch.set_num_threads(args.threads)
    base, tuned, tok = load_pair(model_path(args.model), args.device)
    data = (pairs(args.data_dir, args.n) * args.child_memory)[: args.child_memory]  # the n samples repeated: same lengths
    gc.collect()
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gpu_before = torch.cuda.memory_allocated()
    process = psutil.Process()
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], process.memory_info().rss)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    summaries = ours(base, tuned, tok, data, args.batch_size)
    done.set()
    watcher.join()
    gpu_added = (torch.cuda.max_memory_allocated() - gpu_before) / 2**20 if cuda else None
    print(
        json.dumps(
            {
                "n": args.child_memory,
                "peak_added_mib": (peak[0] - before) / 2**20,
                "gpu_peak_added_mib": gpu_added,
                "tokens": sum(len(s) for s in summaries),
                "summaries_kib": sum(s.nbytes for s in summaries) / 1024,
            }
        )
    )


def main() -> None:
    print(machine_line(), flush=True)
    args = parse_args()
    if args.child_memory is not None:
        return child_memory(args)
    torch.set_num_threads(args.threads)
    path = model_path(args.model)
    base, tuned, tok = load_pair(path, args.device)
    data = pairs(args.data_dir, args.n)
    ours(base, tuned, tok, data[:2], args.batch_size)  # warm-up of both paths (kernels, caches, CUDA handles)
    naive(base, tuned, tok, data[:1])
    t = time.perf_counter()
    fast = ours(base, tuned, tok, data, args.batch_size)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    slow = naive(base, tuned, tok, data)
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    ours(base, tuned, tok, data, 8)
    t_batch8 = time.perf_counter() - t
    tokens = sum(len(s) for s in fast)
    same_rank = np.mean(np.concatenate([np.concatenate([s.rank_base, s.rank_tuned]) == np.array(r["rank_base"] + r["rank_tuned"]) for s, r in zip(fast, slow)]))
    max_lp = max(float(np.abs(np.concatenate([s.logprob_base, s.logprob_tuned]) - np.array(r["lp_base"] + r["lp_tuned"])).max()) for s, r in zip(fast, slow))
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    print(f"model {path.name}, {args.n} samples, {tokens} answer tokens, vocab {base.config.vocab_size}, {where}, {args.threads} threads", file=sys.stderr)
    print(
        f"ours {args.n / t_ours:.2f} samples/s ({t_ours:.1f} s), naive {args.n / t_naive:.2f} samples/s ({t_naive:.1f} s), "
        f"speed-up {t_naive / t_ours:.2f}x (batches of 8: {t_naive / t_batch8:.2f}x); same rank on {100 * same_rank:.3f}% of tokens (float near-ties), max |log-prob difference| {max_lp:.1e}",
        file=sys.stderr,
    )
    mem = []
    for n in (args.n, 4 * args.n):
        cmd = [
            sys.executable,
            __file__,
            "--model",
            args.model,
            "--child-memory",
            str(n),
            "--n",
            str(args.n),
            "--threads",
            str(args.threads),
            "--data-dir",
            str(args.data_dir),
            "--device",
            args.device,
        ]
        cmd += ["--batch-size", str(args.batch_size)] if args.batch_size else []
        mem.append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]))
    print("\n| path | samples/s | speed-up |\n|---|---|---|")
    print(f"| naive (one sample, per-token loop) | {args.n / t_naive:.2f} | 1.0x |")
    print(f"| transferlab (batch {args.batch_size or 'auto'}, streamed) | {args.n / t_ours:.2f} | {t_naive / t_ours:.2f}x |")
    print(f"| transferlab, padded batches of 8 | {args.n / t_batch8:.2f} | {t_naive / t_batch8:.2f}x |")
    print("\n| samples | answer tokens | peak RSS added by scoring (MiB) | peak GPU memory added (MiB) | per-token summaries (KiB) |\n|---|---|---|---|---|")
    for m in mem:
        gpu = "-" if m["gpu_peak_added_mib"] is None else f"{m['gpu_peak_added_mib']:.0f}"
        print(f"| {m['n']} | {m['tokens']} | {m['peak_added_mib']:.0f} | {gpu} | {m['summaries_kib']:.1f} |")


if __name__ == "__main__":
    main()
