"""Benchmarks from installed packages: the ``transferlab.benchmarks`` entry point group.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."transferlab.benchmarks"]
    my_task = "my_package.bench:benchmark"

where the object is a benchmark (the protocol of :class:`~transferlab.benchmarks.base.Benchmark`),
a list of them, or a function returning either. docs/custom-benchmarks.md has a complete example.
A plugin's name may not shadow a registered benchmark; its group may be one of the paper's three
or a group of your own (shown in tables, not in TI).
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

from transferlab.benchmarks.base import Benchmark
from transferlab.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "plugin_benchmarks"]

ENTRY_POINT_GROUP = "transferlab.benchmarks"
_REQUIRED = ("name", "group", "scorer", "mode", "prompt_styles", "load", "messages", "stop", "score")


def _as_benchmarks(obj: Any, where: str) -> list[Any]:
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "score")):  # a class or a factory: call it
        obj = obj()
    found = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    for b in found:
        missing = [a for a in _REQUIRED if not hasattr(b, a)]
        if getattr(b, "mode", "generate") == "loglikelihood" and not hasattr(b, "loglikelihood_requests"):
            missing.append("loglikelihood_requests")
        if missing:
            raise ConfigError(
                f"the plugin {where} gives an object without {', '.join(missing)}", "follow transferlab's Benchmark protocol (docs/custom-benchmarks.md)"
            )
    return found


@functools.cache
def plugin_benchmarks(reserved: frozenset[str] = frozenset()) -> dict[str, Benchmark]:
    """Every benchmark that installed plugins expose, by name (loaded once)."""
    out: dict[str, Benchmark] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        where = f"{ep.name} ({ep.value})"
        try:
            obj = ep.load()
        except Exception as err:  # a broken plugin is named, not a traceback
            raise ConfigError(f"the benchmark plugin {where} failed to load: {type(err).__name__}: {err}", "fix or uninstall that package") from err
        for b in _as_benchmarks(obj, where):
            if b.name in reserved or b.name in out:
                raise ConfigError(f"the plugin {where} names its benchmark {b.name!r}, which is taken", "give the plugin's benchmark another name")
            out[b.name] = b
    return out
