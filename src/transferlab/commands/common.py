"""Command-line helpers shared by the commands: options defined once, translated into library calls.

Numbers are checked where they are parsed (:func:`positive_int`, :func:`positive_float`, ...), so a
bad value stops the command with one line before anything is loaded or stored; generation settings
are checked by :class:`~transferlab.spec.GenerationConfig` itself.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from transferlab.backends import Backend, BackendOptions, load_backend
from transferlab.options import API_KINDS, BACKEND_KINDS, DTYPES, MATH_GRADERS, THINKING_REQUESTS
from transferlab.pipeline.results import ScorerChoice
from transferlab.spec import GenerationConfig

API_KEY_ENV = ("TRANSFERLAB_API_KEY", "OPENAI_API_KEY")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the problem and where to look (exit 2);
    its sub-command parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _number(kind: Callable[[str], Any], minimum: float, strict: bool, what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    parse.__name__ = what
    return parse


positive_int = _number(int, 0, True, "a whole number of at least 1")
non_negative_int = _number(int, 0, False, "a whole number of at least 0")
positive_float = _number(float, 0.0, True, "a finite number above 0")
non_negative_float = _number(float, 0.0, False, "a finite number of at least 0")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` with every option's default: ``(default: X)`` is added to each option whose default
    is a value (not None, False or empty) and whose help does not already say its default;
    descriptions and epilogs keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not shows_default(action) or "default" in text:
            return action.help
        return f"{text} (default: %(default)s)".strip()


def shows_default(action: argparse.Action) -> bool:
    """True for an option whose default is a value worth showing (not None, False or empty)."""
    default = action.default
    return bool(action.option_strings) and not (default is None or default is False or default == [] or default is argparse.SUPPRESS)


def subparsers_of(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of ``parser``'s sub-commands (one level down)."""
    return [p for a in parser._actions if isinstance(a, argparse._SubParsersAction) for p in dict.fromkeys(a.choices.values())]


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every parser below it, depth first."""
    return [parser] + [q for p in subparsers_of(parser) for q in all_parsers(p)]


def use_help_formatter(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give ``parser`` and all its sub-commands the :class:`HelpFormatter`; returns ``parser``."""
    for p in all_parsers(parser):
        p.formatter_class = HelpFormatter
        for action in p._actions:
            if action.help is None and shows_default(action):
                action.help = "(default: %(default)s)"  # argparse prints no help line for an option without help
    return parser


def add_threads_arg(p: argparse.ArgumentParser, *, default: int | None = None) -> None:
    """``--threads N``: torch's CPU threads (see :func:`transferlab.runtime.set_threads`)."""
    what = "torch's own choice, one per core" if default is None else str(default)
    p.add_argument(
        "--threads",
        type=positive_int,
        default=default,
        metavar="N",
        help=f"CPU threads for torch (intra- and inter-op; default: {what}); on a busy machine fewer threads than cores is often faster",
    )


def apply_process_options(args: argparse.Namespace) -> None:
    """What ``--threads`` and ``--quiet`` set for the whole process, before the command runs."""
    from transferlab.runtime import quiet_libraries, set_threads

    if getattr(args, "quiet", False):
        quiet_libraries()
    threads = getattr(args, "threads", None)
    if threads is not None:
        set_threads(threads)


def on_off(value: str) -> bool:
    """``on``/``off`` as a bool (an argparse ``type``)."""
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return value == "on"


def add_scorer_choice_args(p: argparse.ArgumentParser) -> None:
    """``--paper-scoring`` and ``--math-grader``: whose stored verdicts a command counts (results,
    export, ti, report), read by :func:`scorer_choice`."""
    p.add_argument("--paper-scoring", action="store_true", help="count the verdicts of the study's own scorers (stored by score --paper-scoring)")
    p.add_argument("--math-grader", default="transferlab", choices=MATH_GRADERS, help="count the math verdicts of this grader (stored by score --math-grader)")


def scorer_choice(args: argparse.Namespace) -> ScorerChoice:
    """The :class:`ScorerChoice` of ``--paper-scoring`` and ``--math-grader``."""
    return ScorerChoice(paper_scoring=args.paper_scoring, math_grader=args.math_grader)


def console() -> Any:
    """A rich console for tables: the terminal's width (``$COLUMNS`` when set), or 200 columns when
    piped to a file without ``$COLUMNS``."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal or os.environ.get("COLUMNS", "").isdigit() else Console(width=200)


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
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help="rows (prompt x sample) decoded together")


def add_backend_args(p: argparse.ArgumentParser) -> None:
    """The options of the vllm and openai backends."""
    g = p.add_argument_group("vllm backend")
    g.add_argument("--tensor-parallel", type=positive_int, default=1, help="GPUs per vLLM engine")
    g.add_argument("--data-parallel", type=positive_int, default=1, help="vLLM engines, each on its own --tensor-parallel GPUs")
    g.add_argument("--max-model-len", type=positive_int, default=None, help="longest prompt + answer in tokens (default: the model's); sizes vLLM's KV cache")
    g = p.add_argument_group("openai backend (OpenAI-compatible servers: vLLM serve, SGLang, llama.cpp, TGI)")
    g.add_argument("--endpoint", action="append", default=[], help="a server's base URL, e.g. http://127.0.0.1:8000/v1 (repeatable: replicas share the work)")
    g.add_argument("--api", default="chat", choices=API_KINDS, help="chat: the server applies the chat template; completions: rendered here with --tokenizer")
    g.add_argument("--api-key", default=None, help=f"bearer token (default: ${API_KEY_ENV[0]} or ${API_KEY_ENV[1]})")
    g.add_argument("--concurrency", type=positive_int, default=8, help="requests in flight per endpoint")
    g.add_argument("--request-timeout", type=positive_float, default=3600.0, help="seconds to wait for one answer (long reasoning)")
    g.add_argument("--tokenizer", default=None, help="the served model's tokenizer folder or hub id (needed by --api completions)")


def backend_options(args: argparse.Namespace) -> BackendOptions:
    """The :class:`BackendOptions` of the command line; options a command does not define keep their defaults."""
    defaults = BackendOptions()
    opt = {
        name: getattr(args, name, getattr(defaults, name))
        for name in ("device", "dtype", "batch_size", "tensor_parallel", "data_parallel", "max_model_len", "api", "concurrency")
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

    parser = Parser(prog="transferlab")
    register(parser.add_subparsers(dest="command"))
    use_help_formatter(parser)
    args = parser.parse_args([command, *(sys.argv[1:] if argv is None else argv)])
    try:
        apply_process_options(args)
        return int(args.func(args) or 0)
    except TransferlabError as err:
        print(f"transferlab: error: {err}", file=sys.stderr)
        return 2
