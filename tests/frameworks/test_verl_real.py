"""Our verl pieces inside the real verl 0.9.1 (``make test-verl`` installs it into .venv-verl and runs
this module there): the tool loaded by verl's ``initialize_tools_from_config``, verl's
``ToolAgentLoop`` driving it against the real sandbox with a scripted LLM server, ``RLHFDataset``
reading the parquet ``python -m sft rl-data`` writes, and the rl_scripts' Hydra overrides composed
against verl's own configs (``--cfg job``), with the scripts' dry-runs run by verl's interpreter.

In the main venv (no verl) the whole module skips, naming the target that runs it."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import verl
except ImportError:
    pytest.skip("verl is not installed in this venv; `make test-verl` runs this module in .venv-verl "
                "(scripts/setup_verl.sh installs verl[verl-core]==0.9.1 there)", allow_module_level=True)

import pytest_asyncio
from omegaconf import OmegaConf

import retool.integrations.verl as verl_adapter
from retool.tool import CodeInterpreterTool
from sft_data import dapo_rows, write_parquet

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "rl_scripts"
TOOL_CONFIG = SCRIPTS / "verl_tool_config.yaml"
VERL_DIR = Path(verl.__file__).parent
FINAL = "The answer is \\boxed{42}.<|im_end|>"


def test_this_is_the_verl_we_match():
    assert verl.__version__ == "0.9.1"
    assert verl_adapter.VERL_AVAILABLE  # the real BaseTool/ToolResponse, not the stand-ins
    from verl.tools.base_tool import BaseTool

    assert verl_adapter.BaseTool is BaseTool


@pytest_asyncio.fixture(scope="module", autouse=True)
async def _stop_shared_sandboxes():
    yield
    await verl_adapter.shutdown()


@pytest.fixture(scope="module")
def tools():
    from verl.tools.tool_registry import initialize_tools_from_config

    return initialize_tools_from_config(str(TOOL_CONFIG))


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    from retool.testing.tiny_model import build_tiny_tokenizer

    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


# ---------------------------------------------------------------------------------------------
# the tool, loaded and called by verl
# ---------------------------------------------------------------------------------------------
async def test_initialize_tools_from_config_loads_our_tool(tools):
    from verl.tools.base_tool import BaseTool
    from verl.tools.schemas import ToolResponse

    assert len(tools) == 1
    tool = tools[0]
    assert isinstance(tool, verl_adapter.CodeInterpreterVerlTool) and isinstance(tool, BaseTool)
    assert tool.name == "code_interpreter"
    assert tool.tool_schema.model_dump(exclude_unset=True, exclude_none=True) == CodeInterpreterTool().schema
    instance_id, _ = await tool.create(create_kwargs={"ground_truth": "42"})
    response, reward, metrics = await tool.execute(instance_id, {"code": "print(6 * 7)"})
    assert isinstance(response, ToolResponse) and response.text.strip() == "42"
    await tool.release(instance_id)


class ScriptedServer:
    """verl's ``server_manager.generate`` contract (``TokenOutput``), replaying scripted turns."""

    def __init__(self, tok, turns):
        self.tok, self.turns, self.prompts = tok, list(turns), []

    async def generate(self, *, request_id, prompt_ids, sampling_params, **kwargs):
        from verl.workers.rollout.replica import TokenOutput

        self.prompts.append(list(prompt_ids))
        ids = self.tok.encode(self.turns.pop(0), add_special_tokens=False)
        return TokenOutput(token_ids=ids, log_probs=[-0.1] * len(ids), stop_reason="completed")


def verl_config(*overrides: str):
    """verl's own ppo_trainer config, composed by Hydra with ``overrides``."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(VERL_DIR / "trainer" / "config"), version_base=None):
        return compose(config_name="ppo_trainer", overrides=list(overrides))


async def test_tool_agent_loop_drives_our_tool(tools, tok):
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap, ToolListWrap
    from verl.experimental.agent_loop.tool_agent_loop import ToolAgentLoop
    from verl.utils.dataset.rl_dataset import RLHFDataset

    config = verl_config(
        "actor_rollout_ref.rollout.multi_turn.enable=True",
        "actor_rollout_ref.rollout.multi_turn.format=hermes",
        "actor_rollout_ref.rollout.multi_turn.max_assistant_turns=4",
        "actor_rollout_ref.rollout.prompt_length=512",
        "actor_rollout_ref.rollout.response_length=512",
    )
    call = "<tool_call>\n" + json.dumps({"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}) + "\n</tool_call>"
    server = ScriptedServer(tok, ["Let me compute.\n" + call + "<|im_end|>", FINAL])
    loop = ToolAgentLoop(
        trainer_config=DictConfigWrap(config), server_manager=server, tokenizer=tok, processor=None,
        dataset_cls=RLHFDataset, data_config=DictConfigWrap(config.data), tools=ToolListWrap(tools),
    )
    out = await loop.run(
        {"temperature": 1.0}, raw_prompt=[{"role": "user", "content": "What is 6 * 7?"}],
        tools_kwargs={"code_interpreter": {"create_kwargs": {"ground_truth": "42"}}},
    )
    text = tok.decode(out.response_ids, skip_special_tokens=False)
    assert "42" in text and "\\boxed{42}" in text
    observation = tok.decode(server.prompts[1][len(server.prompts[0]):], skip_special_tokens=False)
    assert "42" in observation  # our sandbox's output reached the model's second turn
    assert 0 in out.response_mask and out.response_mask[-1] == 1  # the tool output is masked out
    assert out.num_turns >= 3
    from retool.integrations.verl import compute_score

    score = compute_score(data_source="math_dapo", solution_str=text, ground_truth="42", extra_info={"num_turns": out.num_turns})
    assert score["acc"] is True


# ---------------------------------------------------------------------------------------------
# data and configs
# ---------------------------------------------------------------------------------------------
def test_rlhf_dataset_reads_our_parquet(tmp_path, tok):
    from verl.utils.dataset.rl_dataset import RLHFDataset

    src = write_parquet(dapo_rows(), tmp_path / "dapo.parquet")
    out = tmp_path / "dapo.verl.parquet"
    subprocess.run([sys.executable, "-m", "sft", "rl-data", "--input", str(src), "--output", str(out)],
                   check=True, cwd=REPO, capture_output=True)
    data_config = OmegaConf.merge(verl_config().data, {"return_raw_chat": True, "max_prompt_length": 1024})
    dataset = RLHFDataset(data_files=[str(out)], tokenizer=tok, config=data_config)
    assert len(dataset) == len(dapo_rows())
    item = dataset[0]
    assert item["agent_name"] == "tool_agent"
    assert item["raw_prompt"][0]["role"] == "user"
    assert item["tools_kwargs"]["code_interpreter"]["create_kwargs"]["ground_truth"] == item["reward_model"]["ground_truth"]
    assert item["data_source"]


def command(proc: subprocess.CompletedProcess) -> list[str]:
    """The one-line command a dry-run printed (verl's BaseTool prints the schema while loading)."""
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be exactly the command:\n{proc.stdout}"
    return shlex.split(lines[0])


@pytest.fixture(scope="module")
def script_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("verl_scripts")
    rows = dapo_rows()
    subprocess.run([sys.executable, "-m", "sft", "rl-data", "--input", str(write_parquet(rows, root / "dapo.parquet")),
                    "--output", str(root / "rl.parquet")], check=True, cwd=REPO, capture_output=True)
    schema = CodeInterpreterTool().schema
    sft = [{"messages": [
        {"role": "user", "content": "Compute 12 * 13."},
        {"role": "assistant", "content": "Run it.", "tool_calls": [
            {"type": "function", "function": {"name": "code_interpreter", "arguments": {"code": "print(12 * 13)"}}}]},
        {"role": "tool", "content": "156"},
        {"role": "assistant", "content": "\\boxed{156}"}], "tools": [schema]}] * 2
    write_parquet(sft, root / "sft.parquet")
    model = root / "model"
    model.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DRY_RUN", "PYTHONPATH") and not k.startswith("RETOOL_")}
    env.update({"PYTHON": sys.executable, "TRAIN_PYTHON": sys.executable, "MODEL_DIR": str(model),
                "RL_DATA": str(root / "rl.parquet"), "VAL_DATA": str(root / "rl.parquet"),
                "SFT_DATA": str(root / "sft.parquet"), "SKIP_SANDBOX_CHECK": "1"})
    return env


def compose_job(argv: list[str], module: str) -> subprocess.CompletedProcess:
    """``python -m MODULE --cfg job OVERRIDES``: Hydra composes verl's config with the script's
    overrides and prints it, without training."""
    i = argv.index(module)
    overrides = argv[i + 1:]
    return subprocess.run([sys.executable, "-m", module, "--cfg", "job", *overrides],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def dry_runs(script_env) -> dict[str, subprocess.CompletedProcess]:
    """Both verl scripts' dry-runs, checks run by verl's interpreter, started together."""
    cases = {"rl": ("verl_retool_qwen3_4b_rl.sh", script_env),
             "sft": ("verl_retool_qwen3_4b_sft.sh", {**script_env, "VAL_DATA": script_env["SFT_DATA"]})}
    procs = {name: subprocess.Popen(["bash", str(SCRIPTS / script), "--dry-run"], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, (script, env) in cases.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        out[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


def test_rl_script_overrides_compose_against_verls_config(dry_runs):
    run = dry_runs["rl"]
    argv = command(run)
    # TRAIN_PYTHON imports what the run uses (a plain `pip install verl` would not)
    assert "imports verl.trainer.main_ppo verl.experimental.agent_loop.tool_agent_loop" in run.stderr
    assert '"name": "code_interpreter"' in run.stderr  # verl's BaseTool print went to the log, not stdout
    proc = compose_job(argv, "verl.trainer.main_ppo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = OmegaConf.create(proc.stdout)
    rollout = job.actor_rollout_ref.rollout
    assert rollout.multi_turn.enable is True and rollout.multi_turn.tool_config_path == str(TOOL_CONFIG)
    assert rollout.multi_turn.format == "hermes" and rollout.mode == "async"
    assert job.custom_reward_function.path == str(SCRIPTS / "verl_reward.py")
    assert job.custom_reward_function.reward_kwargs.tool_shaping is True


def test_sft_script_overrides_compose_against_verls_config(dry_runs):
    run = dry_runs["sft"]
    argv = command(run)
    assert "imports verl.trainer.sft_trainer" in run.stderr
    proc = compose_job(argv, "verl.trainer.sft_trainer")
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = OmegaConf.create(proc.stdout)
    assert job.data.messages_key == "messages" and job.data.tools_key == "tools"
    assert "hf_model" in job.checkpoint.save_contents


def test_verl_paths_named_in_our_docs_exist():
    """Comments and docs name verl files; they must be where this verl has them."""
    texts = [(REPO / p).read_text() for p in ("retool/integrations/verl.py", "rl_scripts/verl_tool_config.yaml", "README.md")]
    paths = sorted({m for t in texts for m in re.findall(r"\bverl/[\w/]+\.py\b", t)})
    assert paths
    missing = [p for p in paths if not (VERL_DIR.parent / p).is_file()]
    assert not missing, f"not in verl {verl.__version__}: {missing}"
