import torch

from transferlab.backends.sampling import row_uniforms, select_tokens


def test_greedy_is_argmax():
    logits = torch.tensor([[0.1, 3.0, 0.2], [5.0, 0.0, 0.0]])
    assert select_tokens(logits, temperature=0, top_p=1, seeds=[1, 2], step=0).tolist() == [1, 0]


def test_each_row_depends_only_on_its_seed_and_step():
    torch.manual_seed(0)
    logits = torch.randn(4, 50)
    full = select_tokens(logits, temperature=1.0, top_p=1.0, seeds=[11, 12, 13, 14], step=3)
    alone = select_tokens(logits[2:3], temperature=1.0, top_p=1.0, seeds=[13], step=3)
    assert full[2] == alone[0]
    assert row_uniforms([5], 0).item() != row_uniforms([5], 1).item()


def test_samples_follow_the_distribution():
    probs = torch.tensor([0.5, 0.3, 0.2, 0.0])
    logits = torch.log(probs.clamp_min(1e-30)).expand(20000, 4)
    picks = select_tokens(logits, temperature=1.0, top_p=1.0, seeds=list(range(20000)), step=0)
    freq = torch.bincount(picks, minlength=4).float() / 20000
    assert torch.allclose(freq, probs, atol=0.015)
    assert freq[3] == 0


def test_top_p_keeps_the_nucleus_only():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05])).expand(5000, 4)
    picks = select_tokens(logits, temperature=1.0, top_p=0.8, seeds=list(range(5000)), step=7)
    assert set(picks.tolist()) == {0, 1}  # 0.5 + 0.3 reaches 0.8
    freq = torch.bincount(picks, minlength=4).float() / 5000
    assert abs(freq[0] - 0.625) < 0.03
