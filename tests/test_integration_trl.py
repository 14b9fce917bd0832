"""TRL adapter through TRL's real GRPOTrainer (environment_factory and tools=): one training step of the
tiny model on CPU, with scripted completions (a deterministic stand-in for sampling) and our real sandbox.

Needs trl (installed into .venv-adapters by `make test-adapters`)."""

from __future__ import annotations

import json

import pytest

trl = pytest.importorskip("trl", reason="trl is not installed here; run `make test-adapters`")

from retool.formats import tool_schema  # noqa: E402
from retool.integrations.trl import ReToolEnvironment, python, reward_func  # noqa: E402

END = "<|im_end|>"


def call(name, **arguments):
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>" + END


def test_python_is_a_tool_transformers_accepts():
    from transformers.utils import get_json_schema

    schema = get_json_schema(python)
    ours = tool_schema("python")["function"]
    assert {k: schema["function"][k] for k in ("name", "description", "parameters")} == ours
    assert python("print(6 * 7)") == "42"
    assert "ZeroDivisionError" in python("1 / 0") and python("") .startswith("Error:")


def test_reward_func_reads_labels_and_tool_turns():
    completions = [[{"role": "assistant", "content": "so \\boxed{42}"}],
                   [{"role": "assistant", "content": ""}, {"role": "tool", "content": "1"},
                    {"role": "assistant", "content": "\\boxed{41}"}]]
    scores = reward_func(completions, answer=["42", "42"], prompts=[None, None])
    assert scores[0] == 1.0 and scores[1] < 0


@pytest.fixture(scope="module")
def qwen_model(tiny_model, tmp_path_factory):
    """The tiny model with TRL's Qwen3 chat template, so TRL knows how to parse its tool calls."""
    import shutil

    from transformers import AutoTokenizer
    from trl.chat_template_utils import qwen3_chat_template

    path = tmp_path_factory.mktemp("qwen_tiny")
    shutil.copytree(tiny_model, path, dirs_exist_ok=True)
    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = qwen3_chat_template
    tok.save_pretrained(path)
    return path


def _trainer(qwen_model, tmp_path, script, **kwargs):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    data = Dataset.from_list([{"prompt": [{"role": "user", "content": "What is 6 * 7?"}], "answer": "42"}] * 2)
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2, max_steps=1,
                      max_completion_length=512, logging_steps=1, report_to="none", use_cpu=True, bf16=False,
                      save_strategy="no", learning_rate=1e-5)
    trainer = GRPOTrainer(model=str(qwen_model), train_dataset=data, args=args, **kwargs)
    turns = list(script)
    tok = trainer.processing_class

    def scripted_generation(prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        text = turns.pop(0)
        return [tok.encode(text, add_special_tokens=False) for _ in prompt_ids], None

    trainer._generate_single_turn = scripted_generation  # the stand-in for sampling; the rest is TRL's
    return trainer, turns


def test_environment_factory_one_training_step(qwen_model, tmp_path, monkeypatch):
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    script = [call("python", code="print(6 * 7)"), call("submit", answer="42"), "Done." + END]
    trainer, left = _trainer(qwen_model, tmp_path, script, environment_factory=ReToolEnvironment)
    assert sorted(t.__name__ for t in trainer.tools) == ["python", "submit"]
    trainer.train()
    assert not left, "every scripted turn was generated"
    envs = trainer._environment_pool[None]
    assert [e._answer for e in envs] == ["42", "42"] and all(len(e._statuses) == 1 for e in envs)
    logs = {k: v for entry in trainer.state.log_history for k, v in entry.items()}
    assert logs["rewards/ReToolEnvironment/mean"] == 1.0


def test_tools_and_reward_func_one_training_step(qwen_model, tmp_path):
    script = [call("python", code="print(1 / 0)"), "It is \\boxed{42}." + END]
    trainer, left = _trainer(qwen_model, tmp_path, script, tools=[python], reward_funcs=[reward_func])
    trainer.train()
    assert not left
    logs = {k: v for entry in trainer.state.log_history for k, v in entry.items()}
    assert logs["rewards/reward_func/mean"] == 1.0
