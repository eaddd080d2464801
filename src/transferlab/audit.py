"""``transferlab audit``: does a tuned model's math gain transfer? One pair, one command, one folder.

    transferlab audit --base BASE --tuned TUNED [--benchmarks quick|paper|LIST] --out OUT

1. ``OUT/audit.yaml``: the study spec (:func:`transferlab.study.audit.audit_spec`), written once.
   Edit it and rerun to change benchmarks or settings; a rerun reads it and resumes.
2. Both models evaluated and scored under that one setting into ``OUT/store.db`` (the study runner:
   a store holding other settings is refused, stored completions are reused).
3. Scores with CIs, paired deltas, TI v1/v2 with paired-bootstrap CIs (``OUT/ti.json``) and the
   report (``OUT/report/index.html``), as ``transferlab report`` writes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.demo.study import cell_items, ti_record
from transferlab.errors import ConfigError
from transferlab.io import write_json_atomic
from transferlab.report.build import build_report
from transferlab.store import Store
from transferlab.study.audit import SPEC_NAME, audit_spec, benchmark_set, model_entry
from transferlab.study.run import run_study, study_for_store
from transferlab.study.spec import StudySpec, load_spec, parse_spec
from transferlab.transfer.analysis import StudyAnalysis, analyse_store

STORE_NAME = "store.db"
HEADER = (
    "# Written by `transferlab audit`. Edit it (benchmarks, generation, limit, backend) and rerun the same\n"
    "# audit command, or: transferlab study run audit.yaml --store store.db && transferlab report --store store.db --out report\n"
)


@dataclass(frozen=True)
class AuditResult:
    """Where an audit wrote its outputs, and what it found."""

    out: Path
    spec_path: Path
    store_path: Path
    report: Path
    ti_path: Path
    spec_written: bool
    summaries: list[Any]
    analysis: StudyAnalysis


def write_spec(out: Path, data: dict[str, Any]) -> Path:
    """``OUT/audit.yaml`` written atomically (a temporary file renamed into place); returns its path."""
    import yaml

    path = out / SPEC_NAME
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
    return path


def prepare(out: Path, base: str | None, tuned: str | None, benchmarks: str | None, **options: Any) -> tuple[StudySpec, Path, bool]:
    """The audit's spec: read from ``OUT/audit.yaml`` when it exists (a rerun: the models given must
    be the spec's), else built from the arguments and written. Returns ``(spec, path, written)``."""
    path = out / SPEC_NAME
    if path.is_file():
        spec = load_spec(path)
        _same_models(spec, path, base, tuned)
        if benchmarks is not None:
            wanted = benchmark_set(benchmarks)[0]
            if wanted != list(spec.benchmarks):
                raise ConfigError(
                    f"{path} audits {', '.join(spec.benchmarks)}, not {', '.join(wanted)}",
                    f"edit {path} to change the benchmarks, or choose another --out",
                )
        return spec, path, False
    if base is None or tuned is None:
        raise ConfigError(f"{out} holds no {SPEC_NAME} yet, so --base and --tuned are needed", "pass both models")
    if not out.parent.exists():
        raise ConfigError(f"the folder {out.parent} does not exist", "create it or choose another --out")
    data = audit_spec(base, tuned, benchmarks=benchmarks or "quick", **options)
    parse_spec(data, where="the audit's spec")  # checked before anything is written
    out.mkdir(exist_ok=True)
    path = write_spec(out, data)
    return load_spec(path), path, True


def _same_models(spec: StudySpec, path: Path, base: str | None, tuned: str | None) -> None:
    pairs = [(m, spec.model(m.base)) for m in spec.models if m.base is not None]
    if len(pairs) != 1:
        return  # an edited spec with other pairs: the spec decides
    tuned_model, base_model = pairs[0]
    for given, model, role in ((base, base_model, "base"), (tuned, tuned_model, "tuned")):
        if given is None:
            continue
        entry = model_entry(model.name, given)
        if entry.get("path", entry.get("hf")) != model.source:
            raise ConfigError(
                f"{path} audits {model.source} as the {role} model, not {given}",
                "rerun without --base/--tuned to resume, or choose another --out for another pair",
            )


def run_audit(
    out: str | Path,
    *,
    base: str | None = None,
    tuned: str | None = None,
    benchmarks: str | None = None,
    data_dir: Path | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    show_progress: bool | None = None,
    argv: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda line: None,
    **spec_options: Any,
) -> AuditResult:
    """Write (or read) the spec, evaluate and score both models, compute TI with CIs, write the
    report. ``spec_options``: :func:`~transferlab.study.audit.audit_spec`'s keyword options, used
    when the spec is first written."""
    out = Path(out)
    if data_dir is not None:
        spec_options["data_dir"] = str(data_dir)  # kept in the spec: a rerun reads the same data
    spec, spec_path, written = prepare(out, base, tuned, benchmarks, **spec_options)
    log(f"{'wrote' if written else 'using'} {spec_path}: {len(spec.benchmarks)} benchmarks ({', '.join(spec.benchmarks)}), limit {spec.limit or 'none'}")
    store_path = out / STORE_NAME
    with Store(store_path) as store:
        summaries = run_study(spec, store, data_dir=data_dir, show_progress=show_progress, argv=argv)
        spec, keys = study_for_store(store, spec_path)
        analysis = analyse_store(store, spec, keys, n_resamples=n_resamples, seed=seed)
    ti_path = write_json_atomic(out / "ti.json", ti_record(analysis, cell_items(spec, store_path), n_resamples=n_resamples, seed=seed))
    report = build_report(analysis, out / "report")
    return AuditResult(out, spec_path, store_path, report, ti_path, written, summaries, analysis)


def summary_lines(result: AuditResult) -> list[str]:
    """What the command prints: per pair, the group deltas and TI v2 (v1) with their CIs."""
    lines = []
    for p in result.analysis.pairs:
        deltas = ", ".join(
            f"{g} {v:+.1f}" + (f" [{lo:+.1f}, {hi:+.1f}]" if lo is not None and hi is not None else "") for g, (v, lo, hi) in p.group_delta.items()
        )
        lines.append(f"{p.tuned} vs {p.base}: group deltas (points) {deltas or '-'}")
        for version, row in p.ti.items():
            if row.point is None:
                lines.append(f"  TI {version}: {row.status}" + (f" ({row.error})" if row.error else ""))
                continue
            parts = []
            for g, value in row.point.ti.items():
                ci = row.ci.get(g)
                parts.append(f"{g} " + ("undefined" if value is None else f"{value:.0f}%") + (f" [{ci[0]:.0f}, {ci[1]:.0f}]" if ci else ""))
            lines.append(f"  TI {version}: {', '.join(parts)} ({row.status})")
    lines.append(f"report: {result.report}; TI with CIs: {result.ti_path}; store: {result.store_path}")
    return lines
