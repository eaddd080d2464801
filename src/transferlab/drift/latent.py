"""Latent-space drift, the pure part: masked mean pooling, per-layer PCA shift, linear CKA.

The paper (section 4 of PAPER.md) runs the same raw texts through base and tuned model, mean-pools
each layer's hidden states per text, fits a 2-component PCA on the base model's pooled features
only, projects both models' features on it and compares the means:

- per layer, ``pc1_shift = mean(tuned @ c1) - mean(base @ c1)`` (the paper's "shift") and
  ``pc2_shift`` likewise on the second component;
- the paper's single number, :func:`paper_distance`: the Euclidean distance between the base and
  tuned points ``(PC1 change, PC2 mean)`` averaged over layers, i.e.
  ``hypot(mean_l pc1_shift_l, mean_l pc2_shift_l)``.

Projections are uncentred dot products, as in the paper's script (the shifts do not depend on it).
A component's sign is arbitrary; scikit-learn fixes it deterministically, so a layer's signed
shift is reproducible but only ``|shift|`` is comparable between layers. Linear CKA (Kornblith et
al., 2019) is the second, sign- and rotation-free measure: 1 = the same representation up to a
rotation and scale; we report ``1 - CKA`` as a drift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from transferlab.errors import ConfigError, missing_extra


def masked_mean_pool(hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over the real tokens of each text: [B, T, D] hidden states, [B, T] 0/1 mask -> [B, D] float32.

    ``mask=None`` averages over every position, padding included (the paper's unmasked pooling).
    """
    hidden = hidden.float()
    if mask is None:
        return hidden.mean(dim=1)
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


@dataclass(frozen=True)
class LayerShift:
    """One layer's drift. PC coordinates are means of uncentred projections (feature units).

    ``explained_variance``: the share of the base features' variance each component explains.
    ``cka``: linear CKA between base and tuned features (1 = no drift up to rotation and scale).
    ``mean_distance``: the L2 distance between the base and tuned mean feature vectors.
    """

    layer: int
    pc1_base: float
    pc2_base: float
    pc1_tuned: float
    pc2_tuned: float
    pc1_shift: float
    pc2_shift: float
    explained_variance: tuple[float, float]
    cka: float
    mean_distance: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        data = asdict(self)
        data["explained_variance"] = list(self.explained_variance)
        return data


def pca_projection(base: np.ndarray, tuned: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit a 2-component PCA on ``base`` [N, D]; project both [N, D] on it (uncentred).

    Returns ``(base_proj [N, 2], tuned_proj [N, 2], explained_variance_ratio [2])``. With fewer than
    two directions of variance the missing component is zero.
    """
    try:
        from sklearn.decomposition import PCA
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise missing_extra("scikit-learn", "analysis") from err
    base = np.asarray(base, dtype=np.float64)
    tuned = np.asarray(tuned, dtype=np.float64)
    if base.shape[0] < 2:
        raise ConfigError(f"the latent analysis needs at least 2 texts, got {base.shape[0]}", "raise --n")
    n_comp = min(2, base.shape[0], base.shape[1])
    pca = PCA(n_components=n_comp, svd_solver="full").fit(base)
    components = np.zeros((2, base.shape[1]))
    components[:n_comp] = pca.components_
    ratio = np.zeros(2)
    ratio[:n_comp] = np.nan_to_num(pca.explained_variance_ratio_)
    return base @ components.T, tuned @ components.T, ratio


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two feature matrices [N, D1] and [N, D2] over the same N texts.

    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc``, ``Yc``; computed
    through the N x N Gram matrices, so D may be large. 1.0 when either side has no variance and
    the other has none either, 0.0 when only one has none.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    kx, ky = xc @ xc.T, yc @ yc.T
    hsic = float((kx * ky).sum())
    norm = math.sqrt(float((kx * kx).sum()) * float((ky * ky).sum()))
    if norm == 0.0:
        return 1.0 if float((kx * kx).sum()) == float((ky * ky).sum()) else 0.0
    return hsic / norm


def layer_shift(layer: int, base: np.ndarray, tuned: np.ndarray) -> LayerShift:
    """The drift of one layer from pooled features of base and tuned model ([N, D] each)."""
    if base.shape != tuned.shape:
        raise ConfigError(f"layer {layer}: base features {base.shape} and tuned features {tuned.shape} differ", "compare models of the same architecture")
    pb, pt, ratio = pca_projection(base, tuned)
    mb, mt = pb.mean(axis=0), pt.mean(axis=0)
    return LayerShift(
        layer=layer,
        pc1_base=float(mb[0]),
        pc2_base=float(mb[1]),
        pc1_tuned=float(mt[0]),
        pc2_tuned=float(mt[1]),
        pc1_shift=float(mt[0] - mb[0]),
        pc2_shift=float(mt[1] - mb[1]),
        explained_variance=(float(ratio[0]), float(ratio[1])),
        cka=linear_cka(base, tuned),
        mean_distance=float(np.linalg.norm(np.asarray(tuned, np.float64).mean(0) - np.asarray(base, np.float64).mean(0))),
    )


def layer_shifts(base_layers: Sequence[np.ndarray], tuned_layers: Sequence[np.ndarray]) -> list[LayerShift]:
    """Per-layer drift; layer 0 is the embedding output (hidden states of every layer)."""
    if len(base_layers) != len(tuned_layers):
        raise ConfigError(f"base has {len(base_layers)} hidden-state layers, tuned has {len(tuned_layers)}", "compare models of the same architecture")
    return [layer_shift(i, b, t) for i, (b, t) in enumerate(zip(base_layers, tuned_layers))]


def paper_distance(shifts: Sequence[LayerShift]) -> float:
    """The paper's number: distance between base and tuned ``(PC1 change, PC2 mean)`` averaged over layers."""
    if not shifts:
        return float("nan")
    return math.hypot(float(np.mean([s.pc1_shift for s in shifts])), float(np.mean([s.pc2_shift for s in shifts])))


def summarize(shifts: Sequence[LayerShift]) -> dict[str, object]:
    """The JSON-ready per-layer table plus the paper's distance and layer means."""
    return {
        "layers": [s.to_dict() for s in shifts],
        "paper_distance": paper_distance(shifts),
        "mean_abs_pc1_shift": float(np.mean([abs(s.pc1_shift) for s in shifts])) if shifts else float("nan"),
        "mean_cka": float(np.mean([s.cka for s in shifts])) if shifts else float("nan"),
        "mean_cka_drift": float(np.mean([1.0 - s.cka for s in shifts])) if shifts else float("nan"),
    }
