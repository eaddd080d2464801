"""SFT with TRL on the tiny model: it learns, logs every step, saves a loadable checkpoint, resumes;
bad inputs fail before training."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from transferlab.train.callbacks import read_log
from transferlab.train.data import load_prompts
from transferlab.train.presets import TINY_SFT

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread: on a shared CPU, OpenMP threads waiting on each other make tiny steps 50x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def sft_file(shared_data, path, n=32):
    """Real MATH training problems, each answered by its reference in a box (chat format)."""
    rows = [
        {"prompt": p.messages(), "completion": [{"role": "assistant", "content": f"The answer is \\boxed{{{p.answer}}}."}]}
        for p in load_prompts("math_train", shared_data, limit=n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_sft_learns_logs_saves_and_resumes(tiny_model, shared_data, tmp_path):
    from transferlab.backends.hf import HFBackend
    from transferlab.spec import GenerationConfig
    from transferlab.train.sft import train_sft

    data = sft_file(shared_data, tmp_path / "sft.jsonl")
    out = tmp_path / "sft"
    result = train_sft(str(tiny_model), data, TINY_SFT, out, show_progress=False)
    assert result.global_step == TINY_SFT.max_steps == 8 and result.resumed_from is None

    steps = [r for r in read_log(result.log_path) if "event" not in r]
    assert [r["step"] for r in steps] == list(range(1, 9))
    assert all(r["loss"] is not None and r["tokens_per_s"] > 0 and r["step_s"] > 0 and r["tokens"] > 0 for r in steps)
    losses = [r["loss"] for r in steps]
    assert sum(losses[-2:]) / 2 < 0.7 * sum(losses[:2]) / 2, losses

    base, tuned = weights(tiny_model), weights(out)
    assert any(not torch.equal(base[k], tuned[k]) for k in base)

    backend = HFBackend(str(out), device="cpu")  # a plain Hugging Face folder, as `transferlab eval` loads it
    ((_, completion),) = next(backend.generate([_job(backend)], GenerationConfig(max_new_tokens=4)))
    assert completion.completion_tokens >= 1

    # A crash after step 4: only checkpoint-4 survives. The same command resumes from it, runs
    # steps 5-8 again, and ends on the very weights of the uninterrupted run.
    shutil.rmtree(out / "checkpoint-8")
    for name in ("model.safetensors", "config.json"):
        (out / name).unlink()
    resumed = train_sft(str(tiny_model), data, TINY_SFT, out, show_progress=False)
    assert resumed.resumed_from is not None and resumed.resumed_from.endswith("checkpoint-4")
    assert resumed.global_step == 8
    again = [r["step"] for r in read_log(result.log_path) if "event" not in r]
    assert again == list(range(1, 9)) + [5, 6, 7, 8]
    final = weights(out)
    assert all(torch.allclose(tuned[k], final[k], atol=1e-5) for k in tuned)


def _job(backend):
    from transferlab.backends.base import PromptJob, SampleSlot
    from transferlab.spec import GenerationConfig

    prompt = backend.render([{"role": "user", "content": "what is the sum?"}], GenerationConfig())
    return PromptJob(prompt, (SampleSlot("k", 0, 0),))


def run_train(capsys, *argv):
    from transferlab.commands.train import main

    code = main(list(argv))
    return code, capsys.readouterr().err


def test_bad_inputs_fail_before_training(tiny_model, shared_data, tmp_path, capsys):
    good = sft_file(shared_data, tmp_path / "good.jsonl", n=4)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text().splitlines()[0] + "\n{not json\n")
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    no_answer = tmp_path / "prompts.jsonl"
    no_answer.write_text('{"problem": "1+1?", "answer": "2"}\n{"problem": "2+2?"}\n')
    prompts = tmp_path / "ok.jsonl"
    prompts.write_text('{"problem": "1+1?", "answer": "2"}\n')
    out = tmp_path / "out"
    cases = [
        (("sft", "--base", str(tiny_model), "--data", str(bad), "--out", str(out)), "line 2"),
        (("sft", "--base", str(broken), "--data", str(good), "--out", str(out)), "could not load the base model"),
        (("sft", "--base", str(tmp_path / "nowhere"), "--data", str(good), "--out", str(out)), "not found"),
        (("sft", "--base", str(tiny_model), "--data", str(good), "--out", str(out), "--set", "per_device_batch_size=3"), "not divisible"),
        (("sft", "--base", str(tiny_model), "--data", str(good), "--out", str(out), "--set", "learning_rate=fast"), "not a valid float"),
        (("grpo", "--base", str(tiny_model), "--prompts", str(no_answer), "--out", str(out)), "row 2 has no reference answer"),
        (
            ("grpo", "--base", str(tiny_model), "--prompts", str(no_answer), "--out", str(out), "--set", "num_generations=0"),
            "num_generations must be at least 2",
        ),
        (("grpo", "--base", str(tiny_model), "--prompts", str(prompts), "--out", str(out), "--set", "per_device_batch_size=24"), "not divisible"),
        (("grpo", "--base", str(tiny_model), "--prompts", str(prompts), "--out", str(out), "--set", "temperature=0"), "temperature must be positive"),
    ]
    for argv, message in cases:
        code, err = run_train(capsys, *argv)
        assert code == 2 and message in err, (argv, err)
        assert not list(out.glob("checkpoint-*")) and not (out / "train_log.jsonl").exists()
