"""Command-line helpers shared by the commands: options defined once, translated into library calls."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from transferlab.backends import Backend, BackendOptions, load_backend
from transferlab.options import API_KINDS, BACKEND_KINDS, DTYPES, THINKING_REQUESTS
from transferlab.spec import GenerationConfig

API_KEY_ENV = ("TRANSFERLAB_API_KEY", "OPENAI_API_KEY")


def on_off(value: str) -> bool:
    """``on``/``off`` as a bool (an argparse ``type``)."""
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return value == "on"


def positive_int(value: str) -> int:
    """An integer above zero (an argparse ``type``)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("use a number above 0")
    return number


def positive_float(value: str) -> float:
    """A number above zero (an argparse ``type``)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0:
        raise argparse.ArgumentTypeError("use a number above 0")
    return number


def console() -> Any:
    """A rich console for tables: the terminal's width, or 200 columns when piped to a file."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=200)


def add_generation_args(p: argparse.ArgumentParser) -> None:
    """The sampling and prompt options shared by every command that generates."""
    g = p.add_argument_group("generation")
    g.add_argument("--samples", type=int, default=1, help="completions per prompt (k)")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--max-new-tokens", type=int, default=2048)
    g.add_argument("--seed", type=int, default=0, help="reaches every sampler: a rerun reproduces the samples")
    g.add_argument("--stop", action="append", default=[], help="a stop string (repeatable)")
    g.add_argument("--no-chat-template", action="store_true", help="send raw prompts instead of the model's chat template")
    g.add_argument("--enable-thinking", type=on_off, default=None, metavar="on|off", help="passed to templates that read it (Qwen3)")
    g.add_argument("--system-prompt", default=None)
    g.add_argument("--prompt-style", default="default", help="a benchmark prompt style: default or paper")
    g.add_argument("--thinking-parser", default="auto", choices=THINKING_REQUESTS)


def generation_config(args: argparse.Namespace) -> GenerationConfig:
    """The :class:`GenerationConfig` named by the command-line options."""
    return GenerationConfig(
        samples=args.samples,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        stop=tuple(args.stop),
        chat_template=not args.no_chat_template,
        enable_thinking=args.enable_thinking,
        system_prompt=args.system_prompt,
        prompt_style=args.prompt_style,
        thinking_parser=args.thinking_parser,
    )


def add_model_args(p: argparse.ArgumentParser, *, batch_size: int = 16) -> None:
    """``--backend``, ``--revision``, ``--device``, ``--dtype`` and ``--batch-size``."""
    p.add_argument("--backend", default="hf", choices=BACKEND_KINDS)
    p.add_argument("--revision", default=None, help="hub revision (recorded in the store key)")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default="auto", choices=DTYPES)
    p.add_argument("--batch-size", type=int, default=batch_size, help="rows (prompt x sample) decoded together")


def add_backend_args(p: argparse.ArgumentParser) -> None:
    """The options of the vllm and openai backends."""
    g = p.add_argument_group("vllm backend")
    g.add_argument("--tensor-parallel", type=int, default=1, help="GPUs per vLLM engine")
    g.add_argument("--data-parallel", type=int, default=1, help="vLLM engines, each on its own --tensor-parallel GPUs")
    g = p.add_argument_group("openai backend (OpenAI-compatible servers: vLLM serve, SGLang, llama.cpp, TGI)")
    g.add_argument("--endpoint", action="append", default=[], help="a server's base URL, e.g. http://127.0.0.1:8000/v1 (repeatable: replicas share the work)")
    g.add_argument("--api", default="chat", choices=API_KINDS, help="chat: the server applies the chat template; completions: rendered here with --tokenizer")
    g.add_argument("--api-key", default=None, help=f"bearer token (default: ${API_KEY_ENV[0]} or ${API_KEY_ENV[1]})")
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight per endpoint")
    g.add_argument("--request-timeout", type=float, default=3600.0, help="seconds to wait for one answer (long reasoning)")
    g.add_argument("--tokenizer", default=None, help="the served model's tokenizer folder or hub id (needed by --api completions)")


def backend_options(args: argparse.Namespace) -> BackendOptions:
    """The :class:`BackendOptions` of the command line; options a command does not define keep their defaults."""
    defaults = BackendOptions()
    opt = {
        name: getattr(args, name, getattr(defaults, name))
        for name in ("device", "dtype", "batch_size", "tensor_parallel", "data_parallel", "api", "concurrency")
    }
    return BackendOptions(kind=args.backend, request_timeout=getattr(args, "request_timeout", defaults.request_timeout), **opt)


def backend_from_args(args: argparse.Namespace) -> Backend:
    """The backend named by ``--backend`` for ``--model``, built by :func:`transferlab.backends.load_backend`."""
    api_key = getattr(args, "api_key", None) or next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)
    return load_backend(
        args.model,
        backend_options(args),
        revision=getattr(args, "revision", None),
        endpoints=getattr(args, "endpoint", None) or (),
        tokenizer=getattr(args, "tokenizer", None),
        api_key=api_key,
    )


def module_main(register: Any, command: str, argv: list[str] | None) -> int:
    """``python -m transferlab.commands.X ...``: run one command module as ``transferlab COMMAND ...``."""
    from transferlab.errors import TransferlabError

    parser = argparse.ArgumentParser(prog="transferlab")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args([command, *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except TransferlabError as err:
        print(f"transferlab: error: {err}", file=sys.stderr)
        return 2
