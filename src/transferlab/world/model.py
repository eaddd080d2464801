"""The mini-world's model: a real Qwen2 architecture of about 1M parameters.

Hidden size 128, 4 layers, 4 attention heads (2 key/value heads), MLP width 384, tied embeddings:
small enough to pretrain on a laptop CPU in half an hour, a real Hugging Face model for every tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    """Sizes of the world model (Qwen2 config names)."""

    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 384
    max_position_embeddings: int = 512


def build_model(tokenizer: Any, shape: ModelShape = ModelShape(), seed: int = 0) -> Any:
    """A freshly initialised ``Qwen2ForCausalLM`` for ``tokenizer`` (deterministic for a seed)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=True,
        eos_token_id=eos,
        pad_token_id=pad,
        bos_token_id=None,
        initializer_range=0.02,
        rope_theta=10000.0,  # type: ignore[call-arg]  # accepted at run time and kept on the config; not in the typed signature
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = pad
    model.generation_config.do_sample = False
    return model


def parameter_count(model: Any) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
