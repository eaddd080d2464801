"""Benchmarks of your own, declared in a YAML file (``--benchmarks path/to/task.yaml`` or a folder).

A definition names the data, the fields, a Jinja prompt template, the group, the mode and the
scorer (:mod:`~transferlab.benchmarks.custom_scorers` lists the kinds)::

    name: capitals                     # letters, digits, _ and -
    group: other                       # math, other, non, or a group of your own (not in TI)
    mode: generation                   # or loglikelihood (scorer loglikelihood_choice)
    data: {path: capitals.jsonl}       # .jsonl, .json, .csv or .parquet, relative to this file;
                                       # or {hub: org/name, split: test, config: null, revision: ...}
    fields: {id: id, answer: capital}  # which columns hold the id, the answer (choices, tests...)
    prompt: "What is the capital of {{ country }}? Answer with the name only."
    system: null                       # an optional system message
    stop: []                           # stop strings
    continuation: " {{ choice }}"      # loglikelihood: each option's text after the prompt
    scorer: {kind: normalized}         # + the kind's options (pattern, tolerance, answer_style)

The stored name is ``<name>@<hash>``: 8 hex digits of the SHA-256 of the definition and of the
data file's bytes (hub data: its id, split and config only, so a dataset changed on the hub is
not noticed), so an edited definition or data file is a new benchmark in the store and old and new completions never mix. The store keeps
each definition (:meth:`~transferlab.store.Store.add_benchmark_definition`), so ``score``,
``results`` and ``ti`` rebuild the benchmark without the YAML.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub, take
from transferlab.benchmarks.custom_scorers import KINDS, LOGLIKELIHOOD_KINDS, reference_of, score_kind
from transferlab.errors import ConfigError, DataError
from transferlab.io import read_jsonl
from transferlab.items import Item, ScoringContext, Verdict

__all__ = ["CustomBenchmark", "is_definition_path", "load_definitions"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYS = {"name", "group", "mode", "data", "fields", "prompt", "system", "stop", "continuation", "scorer", "description"}
MODES = {"generation": "generate", "generate": "generate", "loglikelihood": "loglikelihood"}


def is_definition_path(spec: str) -> bool:
    """True when a ``--benchmarks`` entry names a YAML file or a folder rather than a benchmark."""
    return spec.endswith((".yaml", ".yml")) or Path(spec).is_dir()


def _template(text: str, where: str) -> Any:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)  # noqa: S701 - prompts, not HTML
    try:
        return env.from_string(text)
    except jinja2.TemplateSyntaxError as err:
        raise ConfigError(f"{where}: the prompt template does not parse ({err.message}, line {err.lineno})", "fix the Jinja template") from err


def _render(template: Any, values: dict[str, Any], where: str) -> str:
    import jinja2

    try:
        return str(template.render(**values))
    except jinja2.UndefinedError as err:
        raise DataError(f"{where}: the prompt template uses a field the data lacks ({err.message})", "rename the field in the template or the data") from err


@dataclass(frozen=True)
class CustomBenchmark:
    """A benchmark declared in YAML (see the module docstring); it follows the benchmark protocol."""

    name: str
    group: str
    mode: str
    scorer: str
    definition: dict[str, Any] = field(compare=False, hash=False)
    data_file: str | None = field(default=None, compare=False, hash=False)  # where its rows are (None: the hub, or not needed to score)
    definition_path: str | None = field(default=None, compare=False, hash=False)  # the YAML file it was read from
    prompt_styles: tuple[str, ...] = ("default",)

    @property
    def hf_id(self) -> str:
        """The hub id of its data ("" for a local file)."""
        return str(self.definition["data"].get("hub", ""))

    @property
    def kind(self) -> str:
        """The scorer kind (:data:`~transferlab.benchmarks.custom_scorers.KINDS`)."""
        return str(self.definition["scorer"]["kind"])

    @classmethod
    def from_definition(
        cls, definition: dict[str, Any], *, stored_name: str | None = None, data_file: str | None = None, definition_path: str | None = None
    ) -> CustomBenchmark:
        """The benchmark of a checked definition (as :func:`load_definitions` or the store holds it)."""
        mode = MODES[definition.get("mode", "generation")]
        name = stored_name or f"{definition['name']}@{definition['hash']}"
        return cls(name, str(definition["group"]), mode, f"custom_{definition['scorer']['kind']}", definition, data_file, definition_path)

    # -- the protocol -------------------------------------------------------------------------
    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The items, from the definition's data (``data_dir`` does not apply)."""
        rows, where = self._rows()
        fields = self.definition.get("fields", {})
        items, seen = [], set()
        for index, row in enumerate(rows):
            at = f"{where} row {index + 1}"
            item_id = str(row[fields["id"]]) if "id" in fields else str(index)
            if item_id in seen:
                raise DataError(f"{at}: the id {item_id!r} is used twice", "give every row its own id")
            seen.add(item_id)
            try:
                reference, meta = reference_of(self.kind, row, fields, at)
            except KeyError as err:
                raise DataError(f"{at} lacks the field {err}", f"check fields: in {self.definition['name']}'s YAML") from err
            items.append(Item(item_id, dict(row), reference, meta))
        if not items:
            raise DataError(f"{where} holds no rows", "check the data file")
        return take(items, limit)

    def _rows(self) -> tuple[list[dict[str, Any]], str]:
        data = self.definition["data"]
        if "hub" in data:
            return load_hub(str(data["hub"]), config=data.get("config"), split=str(data.get("split", "test"))), str(data["hub"])
        if self.data_file is None:
            raise DataError(f"{self.name}: its data file is not known here", "pass the benchmark's YAML with --benchmarks")
        return read_rows(Path(self.data_file)), self.data_file

    def _values(self, item: Item) -> dict[str, Any]:
        return {**item.fields, "item_id": item.id}

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The system message (if any) and the rendered prompt as the user message."""
        if style not in self.prompt_styles:
            raise DataError(f"{self.name} has no prompt style {style!r}", "use the default style")
        where = f"{self.name} item {item.id}"
        text = _render(_template(self.definition["prompt"], where), self._values(item), where)
        system = self.definition.get("system")
        return ([{"role": "system", "content": str(system)}] if system else []) + [{"role": "user", "content": text}]

    def loglikelihood_requests(self, item: Item, style: str = "default") -> list[tuple[str, str]]:
        """One (rendered prompt, rendered continuation) pair per option."""
        where = f"{self.name} item {item.id}"
        context = _render(_template(self.definition["prompt"], where), self._values(item), where)
        continuation = _template(self.definition.get("continuation", " {{ choice }}"), where)
        choices = item.fields[self.definition.get("fields", {}).get("choices", "choices")]
        choices = json.loads(choices) if isinstance(choices, str) else choices
        return [(context, _render(continuation, {**self._values(item), "choice": c}, where)) for c in choices]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """The definition's stop strings."""
        return tuple(str(s) for s in self.definition.get("stop", ()))

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """The scorer kind's verdicts (see :mod:`~transferlab.benchmarks.custom_scorers`)."""
        return score_kind(self.kind, self.definition["scorer"], items, answers, context)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a local data file: JSON Lines, a JSON list, CSV (a header row) or Parquet."""
    if not path.is_file():
        raise DataError(f"data file {path} not found", "fix data.path (it is relative to the YAML file)")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".gz"):
        return list(read_jsonl(path))
    if suffix == ".json":
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(f"malformed JSON in {path} at line {err.lineno} ({err.msg})", "repair the file") from err
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise DataError(f"{path} is not a JSON list of objects", "write one object per row (or use JSON Lines)")
        return rows
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            return [dict(r) for r in csv.DictReader(f)]
    if suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        return [{k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    raise DataError(f"{path}: unknown data format {suffix!r}", "use .jsonl, .json, .csv or .parquet")


def _check(raw: Any, where: str) -> dict[str, Any]:
    """A definition checked and normalised (every problem one :class:`ConfigError`)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a mapping", "write the benchmark as YAML keys (name, group, data, prompt, scorer...)")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}", f"use only {', '.join(sorted(_KEYS))}")
    missing = [k for k in ("name", "group", "data", "prompt", "scorer") if k not in raw]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}", "a benchmark needs name, group, data, prompt and scorer")
    d = dict(raw)
    if not _NAME.match(str(d["name"])):
        raise ConfigError(f"{where}: name {d['name']!r} is not 1-64 letters, digits, _ or -", "rename it")
    if not _NAME.match(str(d["group"])):
        raise ConfigError(f"{where}: group {d['group']!r} is not a name", "use math, other, non or a name of your own")
    d["scorer"] = {"kind": d["scorer"]} if isinstance(d["scorer"], str) else dict(d["scorer"])
    kind = d["scorer"].get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown scorer {kind!r}", f"choose from {', '.join(KINDS)}")
    mode = d.get("mode", "generation")
    if mode not in MODES:
        raise ConfigError(f"{where}: unknown mode {mode!r}", "use generation or loglikelihood")
    if (MODES[mode] == "loglikelihood") != (kind in LOGLIKELIHOOD_KINDS):
        raise ConfigError(f"{where}: mode {mode} does not go with scorer {kind}", "loglikelihood mode takes the loglikelihood_choice scorer, and only it")
    if kind == "regex":
        try:
            re.compile(str(d["scorer"].get("pattern", "")))
        except re.error as err:
            raise ConfigError(f"{where}: the regex pattern does not compile ({err})", "fix scorer.pattern") from err
        if not d["scorer"].get("pattern"):
            raise ConfigError(f"{where}: the regex scorer needs a pattern", "add scorer.pattern (its first group is the answer)")
    if kind == "math" and d["scorer"].get("answer_style", "boxed") not in ("boxed", "gsm8k"):
        raise ConfigError(f"{where}: unknown answer_style {d['scorer']['answer_style']!r}", "use boxed (\\boxed{...}) or gsm8k (#### N)")
    if kind == "numeric" and not all(isinstance(d["scorer"].get(k, 0), (int, float)) for k in ("tolerance", "relative_tolerance")):
        raise ConfigError(f"{where}: tolerance and relative_tolerance must be numbers", "e.g. scorer: {kind: numeric, tolerance: 0.01}")
    if not isinstance(d["data"], dict) or not ({"path", "hub"} & set(d["data"])):
        raise ConfigError(f"{where}: data names no path or hub id", "give data: {path: FILE} or data: {hub: ID, split: SPLIT}")
    if not isinstance(d.get("fields", {}), dict):
        raise ConfigError(f"{where}: fields is not a mapping", "map roles to columns, e.g. fields: {id: id, answer: answer}")
    _template(str(d["prompt"]), where)
    return d


def _definition_hash(definition: dict[str, Any], data_file: Path | None) -> str:
    digest = hashlib.sha256(json.dumps({k: v for k, v in definition.items() if k not in ("hash", "description")}, sort_keys=True, default=str).encode())
    if data_file is not None:
        with open(data_file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:8]


def load_definition(path: Path) -> CustomBenchmark:
    """The benchmark a YAML file declares."""
    import yaml

    if not path.is_file():
        raise ConfigError(f"no benchmark file {path}", "check the path given to --benchmarks")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML ({str(err).splitlines()[0]})", "fix the file") from err
    definition = _check(raw, str(path))
    data_file = None
    if "path" in definition["data"]:
        data_file = (path.parent / str(definition["data"]["path"])).resolve()
        if not data_file.is_file():
            raise ConfigError(f"{path}: data file {data_file} not found", "fix data.path (it is relative to the YAML file)")
        definition["data"] = {**definition["data"], "path": Path(str(definition["data"]["path"])).name}  # the hash covers the bytes, not where they are
    definition["hash"] = _definition_hash(definition, data_file)
    return CustomBenchmark.from_definition(definition, data_file=str(data_file) if data_file else None, definition_path=str(path.resolve()))


def load_definitions(spec: str) -> list[CustomBenchmark]:
    """The benchmarks of one YAML file, or of every ``*.yaml``/``*.yml`` in a folder (sorted)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        if not files:
            raise ConfigError(f"the folder {path} holds no .yaml benchmark", "put one YAML file per benchmark there")
        return [load_definition(f) for f in files]
    return [load_definition(path)]
