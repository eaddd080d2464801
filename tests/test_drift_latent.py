"""Latent drift: pooling, PCA shift and CKA on hand-made tensors; the tiny model against itself and
against perturbed copies; the ``drift latent`` command writing JSON and real PNGs."""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from transferlab.drift.hidden import benchmark_texts, pooled_hidden_states
from transferlab.drift.latent import LayerShift, layer_shift, layer_shifts, linear_cka, masked_mean_pool, paper_distance, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- pure ----------------------------------------------------------------------------------------
def test_masked_mean_pool_ignores_padding_and_paper_pooling_does_not():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 7.0], [6.0, 8.0], [7.0, 9.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.allclose(masked_mean_pool(hidden, mask), torch.tensor([[2.0, 3.0], [6.0, 8.0]]))
    assert torch.allclose(masked_mean_pool(hidden, None), torch.tensor([[104 / 3, 106 / 3], [6.0, 8.0]]))


BASE = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, -0.5, 0.0]])  # var x 0.5, var y 0.125


def test_pca_shift_along_known_components():
    along_pc1 = layer_shift(0, BASE, BASE + [2.0, 0.0, 0.0])
    assert abs(along_pc1.pc1_shift) == pytest.approx(2.0) and along_pc1.pc2_shift == pytest.approx(0.0, abs=1e-12)
    assert along_pc1.explained_variance == pytest.approx((0.8, 0.2))
    assert along_pc1.pc1_base == pytest.approx(0.0, abs=1e-12) and along_pc1.mean_distance == pytest.approx(2.0)
    along_pc2 = layer_shift(1, BASE, BASE + [0.0, -3.0, 0.0])
    assert along_pc2.pc1_shift == pytest.approx(0.0, abs=1e-12) and abs(along_pc2.pc2_shift) == pytest.approx(3.0)
    off_plane = layer_shift(2, BASE, BASE + [0.0, 0.0, 5.0])  # outside the base's PCA plane: no PC shift
    assert off_plane.pc1_shift == pytest.approx(0.0, abs=1e-12) and off_plane.pc2_shift == pytest.approx(0.0, abs=1e-12)
    assert off_plane.mean_distance == pytest.approx(5.0) and off_plane.cka == pytest.approx(1.0)
    # Uncentred projections, as the paper: the base mean is projected too.
    moved = layer_shift(3, BASE + [10.0, 0.0, 0.0], BASE + [10.0, 0.0, 0.0])
    assert abs(moved.pc1_base) == pytest.approx(10.0) and moved.pc1_shift == pytest.approx(0.0, abs=1e-9)


def _shift(layer: int, pc1: float, pc2: float) -> LayerShift:
    return LayerShift(layer, 0.0, 1.0, pc1, 1.0 + pc2, pc1, pc2, (0.5, 0.5), 1.0, 0.0)


def test_paper_distance_is_the_distance_of_the_layer_averaged_points():
    assert paper_distance([_shift(0, 2.0, 0.0), _shift(1, 0.0, 3.0)]) == pytest.approx(math.hypot(1.0, 1.5))
    assert paper_distance([_shift(0, 1.0, 0.0), _shift(1, -1.0, 0.0)]) == 0.0  # signed: opposite shifts cancel
    assert math.isnan(paper_distance([]))


def test_paper_distance_matches_the_papers_centroid_formula():
    rng = np.random.default_rng(0)
    base = [rng.normal(size=(12, 6)) for _ in range(4)]
    tuned = [b + rng.normal(scale=0.3, size=b.shape) + 0.2 for b in base]
    # The paper's records: ("Original", shift 0, PC2 mean of base), ("Updated", PC1 change, PC2 mean of tuned).
    from sklearn.decomposition import PCA

    original, updated = [], []
    for b, t in zip(base, tuned):
        pca = PCA(n_components=2).fit(b)
        c1, c2 = pca.components_
        original.append((0.0, float(b.dot(c2).mean())))
        updated.append((float(t.dot(c1).mean() - b.dot(c1).mean()), float(t.dot(c2).mean())))
    expected = float(np.linalg.norm(np.mean(updated, axis=0) - np.mean(original, axis=0)))
    assert paper_distance(layer_shifts(base, tuned)) == pytest.approx(expected, rel=1e-9)


def test_linear_cka_hand_values():
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    y = np.array([[1.0], [3.0], [2.0], [4.0]])
    assert linear_cka(x, y) == pytest.approx(0.64)  # one feature each: CKA = Pearson r^2 = 0.8^2
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(10, 5))
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert linear_cka(feats, 3.0 * feats @ rotation + 7.0) == pytest.approx(1.0)
    assert linear_cka(feats, rng.normal(size=(10, 5))) < 0.9


# -- on the tiny model ---------------------------------------------------------------------------
def perturbed_copy(src: Path, dst: Path, scale: float, seed: int = 0) -> Path:
    """A copy of a checkpoint with Gaussian noise of std ``scale`` added to every weight."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    model.save_pretrained(dst)
    for f in src.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens")) or f.name == "chat_template.jinja":
            shutil.copy(f, dst / f.name)
    return dst


@pytest.fixture(scope="module")
def tiny_parts(tiny_model):
    from transferlab.backends.hf import HFBackend

    backend = HFBackend(str(tiny_model), device="cpu")
    return backend.hf_model, backend.tokenizer


@pytest.mark.slow
def test_masked_pooling_does_not_depend_on_the_batch(tiny_parts):
    model, tok = tiny_parts
    texts = ["2 + 3 = 5", "the total number of ducks and eggs is the sum of each number then the product"]
    alone = pooled_hidden_states(model, tok, texts[:1], batch_size=1)
    batched = pooled_hidden_states(model, tok, texts, batch_size=2)
    for a, b in zip(alone, batched):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-4)
    paper = pooled_hidden_states(model, tok, texts, pooling="paper")  # mean over the padding too
    assert not np.allclose(paper[1][0], batched[1][0], atol=1e-3)
    assert len(batched) == model.config.num_hidden_layers + 1 and batched[0].shape == (2, model.config.hidden_size)


@pytest.mark.slow
def test_tiny_model_against_itself_and_perturbed_copies(tiny_model, tiny_parts, shared_data, tmp_path):
    from transferlab.backends.hf import HFBackend

    model, tok = tiny_parts
    texts = benchmark_texts("gsm8k", shared_data, 12)
    base = pooled_hidden_states(model, tok, texts)
    same = summarize(layer_shifts(base, pooled_hidden_states(model, tok, texts)))
    assert same["paper_distance"] == 0.0 and same["mean_cka_drift"] == pytest.approx(0.0, abs=1e-9)
    assert all(row["pc1_shift"] == 0.0 and row["mean_distance"] == 0.0 for row in same["layers"])
    drifts = []
    for scale in (0.01, 0.1, 0.5):
        copy = HFBackend(str(perturbed_copy(tiny_model, tmp_path / f"noisy{scale}", scale)), device="cpu")
        drifts.append(summarize(layer_shifts(base, pooled_hidden_states(copy.hf_model, tok, texts))))
    cka_drift = [d["mean_cka_drift"] for d in drifts]
    assert 0 < cka_drift[0] < cka_drift[1] < cka_drift[2], cka_drift
    distances = [np.mean([row["mean_distance"] for row in d["layers"]]) for d in drifts]
    assert 0 < distances[0] < distances[1] < distances[2]
    assert all(d["paper_distance"] > 0 and d["mean_abs_pc1_shift"] > 0 for d in drifts)
    # The PCA shift is noisy at small perturbations but large ones dwarf small ones.
    assert drifts[2]["mean_abs_pc1_shift"] > 10 * drifts[0]["mean_abs_pc1_shift"]


@pytest.mark.slow
def test_drift_latent_command_writes_json_and_pngs(tiny_model, shared_data, tmp_path):
    from transferlab.commands import drift

    noisy = perturbed_copy(tiny_model, tmp_path / "tuned", 0.1)
    parser = argparse.ArgumentParser()
    drift.register(parser.add_subparsers())
    out = tmp_path / "out"
    args = parser.parse_args(
        [
            "drift",
            "latent",
            "--base",
            str(tiny_model),
            "--tuned",
            str(noisy),
            "--benchmarks",
            "gsm8k,math500",
            "--n",
            "6",
            "--out",
            str(out),
            "--data-dir",
            str(shared_data),
            "--device",
            "cpu",
        ]
    )
    assert args.func(args) == 0
    for bench in ("gsm8k", "math500"):
        data = json.loads((out / f"latent__tuned-vs-tiny-qwen2__{bench}.json").read_text())
        assert data["kind"] == "latent" and data["settings"]["pooling"] == "masked" and data["settings"]["n"] == 6
        assert len(data["result"]["layers"]) == 3 and data["result"]["paper_distance"] > 0
    import matplotlib.image

    for name in ("layers", "scatter"):
        png = out / f"latent__tuned-vs-tiny-qwen2__{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert matplotlib.image.imread(png).shape[0] > 100
    from transferlab.drift import load_drift_results

    assert [d["benchmark"] for d in load_drift_results(out)["latent"]] == ["gsm8k", "math500"]
