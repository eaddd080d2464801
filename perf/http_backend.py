"""HTTP backend throughput: transferlab's openai backend vs a plain sequential client vs a plain
thread pool, all against the same real server (llama-cpp-python's, serving SmolLM2-135M-Instruct).

Run from the repository root (the server's virtualenv is built on first use, see
scripts/llama-server-venv.sh):

    .venv/bin/python perf/http_backend.py
    .venv/bin/python perf/http_backend.py --items 24 --concurrency 4 --server-threads 2

Every path sends the very same requests (GSM8K items rendered by transferlab for the chat API,
one request per sample with its own seed, ``--max-new-tokens`` each):

- transferlab: ``run_eval`` with ``OpenAIBackend`` into a fresh store (planning, keying and one
  store commit per arriving group included in the timing);
- sequential: one ``requests.Session``, one request after another;
- thread pool: ``concurrent.futures.ThreadPoolExecutor`` with ``--concurrency`` workers, each
  with its own ``requests.Session`` (the same concurrency transferlab gets).

Each path is timed ``--repeats`` times, best kept; completions/s and the ratios are printed, with
the share of completions whose text is the same as the sequential client's (the server honours
seeds). The machine may be shared: compare paths only within one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import llama_server  # noqa: E402 - after the sys.path entry above; tests/llama_server.py builds and starts the real server
from machine import machine_line  # noqa: E402 - perf/machine.py: the CPU flags printed with every result


def build_requests(url: str, items: int, samples: int, tokens: int, data_dir: Path | None) -> tuple[Any, list[tuple[str, dict[str, Any]]], Any]:
    """The benchmark, the exact request list every path sends, and the generation config."""
    from transferlab.backends.http_pool import PoolSettings
    from transferlab.backends.openai_http import OpenAIBackend
    from transferlab.benchmarks import parse_benchmarks
    from transferlab.pipeline.generate import plan_benchmark
    from transferlab.spec import GenerationConfig
    from transferlab.store import Store

    config = GenerationConfig(samples=samples, temperature=0.7, top_p=0.95, max_new_tokens=tokens, seed=11)
    backend = OpenAIBackend("smollm2", [url], settings=PoolSettings())
    benchmark = parse_benchmarks("gsm8k")[0]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "plan.db") as store:
        plan = plan_benchmark(backend, store, benchmark, config, data_dir=data_dir, limit=items)
    requests = [backend._request(job.prompt, plan.config, slot.seed) for job in plan.jobs for slot in job.slots]
    return benchmark, requests, config


def run_sequential(url: str, requests: list[tuple[str, dict[str, Any]]]) -> list[str]:
    import requests as http

    with http.Session() as session:
        return [_text(session.post(f"{url}/{path}", json=payload, timeout=600)) for path, payload in requests]


def run_thread_pool(url: str, requests: list[tuple[str, dict[str, Any]]], concurrency: int) -> list[str]:
    import requests as http

    local = threading.local()

    def one(request: tuple[str, dict[str, Any]]) -> str:
        if not hasattr(local, "session"):
            local.session = http.Session()
        return _text(local.session.post(f"{url}/{request[0]}", json=request[1], timeout=600))

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, requests))


def _text(resp: Any) -> str:
    resp.raise_for_status()
    return resp.json()["choices"][0]["message"]["content"] or ""


def run_transferlab(url: str, benchmark: Any, config: Any, items: int, concurrency: int, data_dir: Path | None) -> list[str]:
    from transferlab.backends.http_pool import PoolSettings
    from transferlab.backends.openai_http import OpenAIBackend
    from transferlab.pipeline.generate import run_eval
    from transferlab.store import Store

    backend = OpenAIBackend("smollm2", [url], settings=PoolSettings(concurrency=concurrency))
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        summary = run_eval(backend, [benchmark], config, store, data_dir=data_dir, limit=items, show_progress=False)
        assert summary.generated == summary.requested, summary
        return [r.text for r in store.completions()]


def best_of(repeats: int, fn: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(argv: list[str] | None = None) -> int:
    print(machine_line(), flush=True)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=16, help="GSM8K items")
    p.add_argument("--samples", type=int, default=2, help="samples per item (one request each)")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--concurrency", type=int, default=4, help="thread-pool workers = transferlab's requests in flight")
    p.add_argument("--server-threads", type=int, default=1, help="the server's compute threads")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = p.parse_args(argv)
    from transferlab.models import smollm2_gguf

    data_dir = Path(args.data_dir) if Path(args.data_dir).is_dir() else None
    proc, url = llama_server.start_llama_server(llama_server.server_python(), smollm2_gguf(), threads=args.server_threads)
    with llama_server.running(proc):
        benchmark, requests, config = build_requests(url, args.items, args.samples, args.max_new_tokens, data_dir)
        run_sequential(url, requests[:2])  # warm-up
        n = len(requests)
        t_seq, seq = best_of(args.repeats, lambda: run_sequential(url, requests))
        t_pool, pool = best_of(args.repeats, lambda: run_thread_pool(url, requests, args.concurrency))
        t_tl, ours = best_of(args.repeats, lambda: run_transferlab(url, benchmark, config, args.items, args.concurrency, data_dir))
    print(f"{n} completions of up to {args.max_new_tokens} tokens; concurrency {args.concurrency}; server threads {args.server_threads}")
    for name, t in (("sequential", t_seq), ("thread pool", t_pool), ("transferlab", t_tl)):
        print(f"  {name:12s} {t:7.2f} s  {n / t:6.2f} completions/s")
    print(f"transferlab / sequential: {t_seq / t_tl:.2f}x   transferlab / thread pool: {t_pool / t_tl:.2f}x   thread pool / sequential: {t_seq / t_pool:.2f}x")
    print(f"identical texts vs sequential: thread pool {shared_share(seq, pool):.0%}, transferlab {shared_share(seq, ours):.0%}")
    return 0


def shared_share(reference: list[str], texts: list[str]) -> float:
    """The share of ``reference`` texts also among ``texts`` (as multisets: store order differs)."""
    return sum((Counter(reference) & Counter(texts)).values()) / max(1, len(reference))


if __name__ == "__main__":
    sys.exit(main())
