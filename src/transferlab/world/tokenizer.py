"""The mini-world's tokenizer: byte-level BPE trained on the world's own text, digits split one by one.

Single-digit tokens let a tiny model learn arithmetic digit by digit. ``<|im_start|>``,
``<|im_end|>`` (end of turn, the end-of-sequence token) and ``<|endoftext|>`` (padding) are special;
``<think>`` and ``</think>`` are ordinary added tokens, so decoding with
``skip_special_tokens=True`` (what the backends do) keeps the thinking tags in the text.
The chat template is ChatML; ``enable_thinking=True`` opens ``<think>`` in the generation prompt.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transferlab.models import CHATML_TEMPLATE

SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
THINK_TOKENS = ("<think>", "</think>")
VOCAB_SIZE = 768
CORPUS_ITEMS = 600  # per family


def _corpus(seed: int) -> Iterator[str]:
    """World text to learn merges from: questions, direct answers and teacher traces."""
    from transferlab.world.catalog import FAMILIES, train_items
    from transferlab.world.teacher import teacher_trace

    for name, family in FAMILIES.items():
        for item in train_items(name, CORPUS_ITEMS, seed):
            yield item.fields["question"]
            yield item.meta["response"]
            if family.group == "math":
                yield teacher_trace(item)
    rng = random.Random(seed)
    yield " ".join(str(rng.randint(0, 999)) for _ in range(200))
    for _ in range(100):
        yield "user\nassistant\nsystem\n"


def build_tokenizer(seed: int = 0, vocab_size: int = VOCAB_SIZE) -> Any:
    """Train the world tokenizer (deterministic for a seed); returns a ``PreTrainedTokenizerFast``."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL), initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(_corpus(seed), trainer=trainer)
    bpe.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None)
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def save_tokenizer(tokenizer: Any, out_dir: Path) -> None:
    """Write the tokenizer files (``tokenizer.json``, ``tokenizer_config.json`` with the chat template)."""
    tokenizer.save_pretrained(out_dir)
