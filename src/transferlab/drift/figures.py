"""Drift figures (matplotlib, PNG): per-layer shift curves, the paper's scatter, token shares, KL, positions.

Every function takes the JSON-ready summaries the analyses write (keyed by benchmark) and a path,
draws with the non-interactive Agg backend, writes the PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transferlab.errors import missing_extra

Summaries = Mapping[str, Mapping[str, Any]]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise missing_extra("matplotlib", "report") from err
    return plt


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_layer_shifts(summaries: Summaries, path: Path, *, title: str = "") -> Path:
    """Per-layer |PC1 shift|, |PC2 shift| and 1 - CKA, one line per benchmark."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for bench, summary in summaries.items():
        layers = summary["layers"]
        x = [row["layer"] for row in layers]
        axes[0].plot(x, [abs(row["pc1_shift"]) for row in layers], marker=".", label=bench)
        axes[1].plot(x, [abs(row["pc2_shift"]) for row in layers], marker=".", label=bench)
        axes[2].plot(x, [1.0 - row["cka"] for row in layers], marker=".", label=bench)
    for ax, label in zip(axes, ("|PC1 shift|", "|PC2 shift|", "1 - linear CKA")):
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=7)
    fig.suptitle(title or "latent drift per layer")
    return _save(fig, path)


def plot_pca_scatter(summaries: Summaries, path: Path, *, title: str = "") -> Path:
    """The paper's original-vs-updated scatter: per layer (PC1 change, PC2 mean), with centroids."""
    plt = _pyplot()
    n = max(1, len(summaries))
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.8), squeeze=False)
    for ax, (bench, summary) in zip(axes[0], summaries.items()):
        layers = summary["layers"]
        ox, oy = [0.0] * len(layers), [row["pc2_base"] for row in layers]
        ux, uy = [row["pc1_shift"] for row in layers], [row["pc2_tuned"] for row in layers]
        ax.scatter(ox, oy, s=14, alpha=0.6, label="original (base)")
        ax.scatter(ux, uy, s=14, alpha=0.6, label="updated (tuned)")
        ax.scatter([sum(ox) / len(ox)], [sum(oy) / len(oy)], marker="X", s=90, color="C0", edgecolor="k")
        ax.scatter([sum(ux) / len(ux)], [sum(uy) / len(uy)], marker="X", s=90, color="C1", edgecolor="k")
        ax.set_title(f"{bench}: distance {summary['paper_distance']:.3g}", fontsize=9)
        ax.set_xlabel("PC1 change")
        ax.set_ylabel("PC2 mean")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title or "PCA shift (paper's view)")
    return _save(fig, path)


def plot_token_shares(summaries: Summaries, path: Path, *, title: str = "") -> Path:
    """Stacked URIAL shares (unshifted / marginal / shifted) per benchmark."""
    plt = _pyplot()
    names = list(summaries)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names) + 2), 3.8))
    bottom = [0.0] * len(names)
    for category, color in (("unshifted", "#4c72b0"), ("marginal", "#dd8452"), ("shifted", "#c44e52")):
        values = [100 * summaries[n]["urial_shares"][category] for n in names]
        ax.bar(names, values, bottom=bottom, label=category, color=color)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("answer tokens (%)")
    ax.legend(fontsize=7)
    ax.set_title(title or "token shift by base rank (URIAL)")
    return _save(fig, path)


def plot_token_kl(summaries: Summaries, path: Path, *, title: str = "") -> Path:
    """Sampled (paper) and exact KL(tuned || base) per benchmark, side by side."""
    plt = _pyplot()
    names = list(summaries)
    x = list(range(len(names)))
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names) + 2), 3.8))
    ax.bar([i - 0.2 for i in x], [summaries[n]["sampled_kl"] for n in names], width=0.4, label="sampled KL (paper)")
    ax.bar([i + 0.2 for i in x], [summaries[n]["exact_kl"] for n in names], width=0.4, label="exact KL")
    ax.set_xticks(x, names)
    ax.set_ylabel("nats per token")
    ax.legend(fontsize=7)
    ax.set_title(title or "KL(tuned || base) on the tuned model's answers")
    return _save(fig, path)


def plot_position_curves(summaries: Summaries, path: Path, *, title: str = "") -> Path:
    """Shifted share and exact KL by answer decile, one line per benchmark."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for bench, summary in summaries.items():
        rows = summary["by_position"]["relative"]
        labels = [r["label"] for r in rows]
        axes[0].plot(labels, [100 * r["shifted"] for r in rows], marker=".", label=bench)
        axes[1].plot(labels, [r["exact_kl"] for r in rows], marker=".", label=bench)
    axes[0].set_ylabel("shifted tokens (%)")
    axes[1].set_ylabel("exact KL (nats)")
    for ax in axes:
        ax.set_xlabel("position in the answer")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.suptitle(title or "token drift by position")
    return _save(fig, path)
