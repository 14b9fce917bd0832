"""verl adapter: the tool's lifecycle against the real sandbox, compute_score, the tool config YAML,
and the reward file loaded the way verl loads it."""

from __future__ import annotations

import asyncio
import copy
import importlib
import importlib.util
from pathlib import Path

import pytest
import pytest_asyncio

import retool.integrations.verl as verl_adapter
from retool.integrations.verl import (
    VERL_AVAILABLE,
    CodeInterpreterVerlTool,
    OpenAIFunctionToolSchema,
    ToolResponse,
    compute_score,
    default_tool_schema,
    shutdown,
)
from retool.tool import NO_OUTPUT, CodeInterpreterTool
from sandbox import SandboxError

REPO = Path(__file__).resolve().parents[1]
TOOL_CONFIG = REPO / "rl_scripts" / "verl_tool_config.yaml"
REWARD_FILE = REPO / "rl_scripts" / "verl_reward.py"


@pytest_asyncio.fixture(scope="module", autouse=True)
async def _stop_shared_sandboxes():
    """The tool starts a shared sandbox on first use; stop it when the module is done."""
    yield
    await shutdown()


def make_tool(**config) -> CodeInterpreterVerlTool:
    return CodeInterpreterVerlTool({"type": "native", "sandbox_workers": 2, **config}, None)


# ---------------------------------------------------------------------------------------------
# lifecycle: create -> execute -> release, as verl's ToolAgentLoop calls it
# ---------------------------------------------------------------------------------------------
async def test_lifecycle_runs_code_in_the_sandbox():
    tool = make_tool(timeout_s=5)
    instance_id, created = await tool.create(create_kwargs={"ground_truth": "2"})
    assert isinstance(instance_id, str) and instance_id
    assert isinstance(created, ToolResponse)
    response, reward, metrics = await tool.execute(instance_id, {"code": "print(1+1)"}, agent_data=object())
    assert isinstance(response, ToolResponse)
    assert response.text == "2"
    assert reward == 0.0
    assert metrics["status"] == "ok" and metrics["duration_s"] > 0
    assert tool._instances[instance_id] == {"ground_truth": "2", "calls": 1, "statuses": ["ok"]}
    assert await tool.calc_reward(instance_id) == 0.0
    await tool.release(instance_id)
    assert instance_id not in tool._instances
    await tool.release(instance_id)  # releasing twice is harmless


async def test_older_create_call_style():
    """verl's older SGLang rollout spread create_kwargs out as keyword arguments."""
    tool = make_tool()
    instance_id, _ = await tool.create("fixed-id", ground_truth="42")
    assert instance_id == "fixed-id"
    assert tool._instances["fixed-id"]["ground_truth"] == "42"


async def test_errors_and_silence_are_observations():
    tool = make_tool()
    instance_id, _ = await tool.create()
    response, _, metrics = await tool.execute(instance_id, {"code": "x = 1"})
    assert response.text == NO_OUTPUT and metrics["status"] == "ok"
    response, _, metrics = await tool.execute(instance_id, {"code": "print('a')\n1/0"})
    assert metrics["status"] == "error"
    assert response.text.startswith("a\nTraceback") and "ZeroDivisionError" in response.text


async def test_timeout_from_config():
    tool = make_tool(timeout_s=0.5)
    instance_id, _ = await tool.create()
    response, reward, metrics = await tool.execute(
        instance_id, {"code": "import time\nprint('started', flush=True)\ntime.sleep(10)"}
    )
    assert metrics["status"] == "timeout" and reward == 0.0
    assert "[timeout:" in response.text and "0.5s" in response.text


async def test_memory_limit_from_config_alias():
    """``memory_limit_mb`` is SandboxFusionTool's key; it works here too."""
    tool = make_tool(memory_limit_mb=64, default_timeout=5)
    assert tool.memory_mb == 64 and tool.timeout_s == 5.0
    instance_id, _ = await tool.create()
    response, _, metrics = await tool.execute(instance_id, {"code": "x = bytearray(512 * 1024 * 1024)\nprint(len(x))"})
    assert metrics["status"] == "memory"
    assert "[memory limit exceeded" in response.text


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"cod": "print(1)"}, "missing the required argument 'code'"),
        ({"code": ["print(1)"]}, "must be a string"),
        ({"code": "   "}, "empty"),
        ("{not json", "not valid JSON"),
        (["print(1)"], "must be an object"),
    ],
)
async def test_invalid_calls_are_answered_not_run(parameters, message):
    tool = make_tool()
    instance_id, _ = await tool.create()
    response, reward, metrics = await tool.execute(instance_id, parameters)
    assert metrics["status"] == "invalid" and reward == 0.0
    assert response.text.startswith("Error:") and message in response.text
    assert tool._instances[instance_id]["statuses"] == ["invalid"]


async def test_json_string_arguments_and_fenced_code():
    tool = make_tool()
    instance_id, _ = await tool.create()
    response, _, _ = await tool.execute(instance_id, '{"code": "print(6 * 7)"}')
    assert response.text == "42"
    response, _, _ = await tool.execute(instance_id, {"code": "```python\nprint(2 ** 10)\n```"})
    assert response.text == "1024"


async def test_execute_without_create_still_runs():
    tool = make_tool()
    response, _, metrics = await tool.execute("never-created", {"code": "print(3)"})
    assert response.text == "3" and metrics["status"] == "ok"


async def test_one_sandbox_shared_by_tools_and_concurrent_first_calls():
    await shutdown()  # start from no sandbox on this loop
    tools = [make_tool(timeout_s=5), make_tool(timeout_s=7, memory_mb=512)]
    results = await asyncio.gather(*(
        tool.execute("i", {"code": f"print({n})"}) for n in range(6) for tool in tools
    ))
    assert sorted(int(r[0].text) for r in results) == sorted(list(range(6)) * 2)
    state = verl_adapter._SHARED[asyncio.get_running_loop()]
    assert len(state.sandboxes) == 1  # per-call limits differ; workers are shared


async def test_deepcopy_after_use():
    """verl's ToolListCache hands out deep copies of initialised tools."""
    tool = make_tool()
    await tool.execute("i", {"code": "print(1)"})
    clone = copy.deepcopy(tool)
    response, _, _ = await clone.execute("j", {"code": "print(5)"})
    assert response.text == "5"


# ---------------------------------------------------------------------------------------------
# construction and schema
# ---------------------------------------------------------------------------------------------
def test_schema_is_code_interpreter_tool_schema():
    tool = make_tool()
    assert tool.name == "code_interpreter"
    assert tool.get_openai_tool_schema() is tool.tool_schema
    # what verl renders into the chat template
    assert tool.tool_schema.model_dump(exclude_unset=True, exclude_none=True) == CodeInterpreterTool().schema
    assert default_tool_schema().model_dump(exclude_unset=True, exclude_none=True) == CodeInterpreterTool().schema


def test_schema_given_as_dict_or_model():
    from_dict = CodeInterpreterVerlTool({"type": "native"}, CodeInterpreterTool().schema)
    model = OpenAIFunctionToolSchema.model_validate(CodeInterpreterTool().schema)
    from_model = CodeInterpreterVerlTool({"type": "native"}, model)
    assert from_dict.name == from_model.name == "code_interpreter"


def test_config_is_validated_at_load_time():
    with pytest.raises(ValueError, match="unknown .* config key.*timeout"):
        CodeInterpreterVerlTool({"type": "native", "timeout": 5}, None)
    with pytest.raises(SandboxError):
        CodeInterpreterVerlTool({"type": "native", "timeout_s": 10_000}, None)
    with pytest.raises(ValueError, match="max_observation_chars"):
        CodeInterpreterVerlTool({"type": "native", "max_observation_chars": 0}, None)
    # SandboxFusionTool's keys are accepted, so only class_name changes when switching over
    fusion = {"type": "native", "num_workers": 10, "rate_limit": 10, "enable_global_rate_limit": True,
              "default_language": "python", "sandbox_fusion_url": "http://localhost:8080/run_code"}
    assert CodeInterpreterVerlTool(fusion, None).timeout_s == 10.0


@pytest.mark.skipif(VERL_AVAILABLE, reason="verl is installed: its own classes are used")
def test_stand_ins_are_used_without_verl():
    assert ToolResponse.__module__ == "retool.integrations.verl"
    assert ToolResponse(text="x").is_text_only() and ToolResponse().is_empty()


# ---------------------------------------------------------------------------------------------
# compute_score
# ---------------------------------------------------------------------------------------------
def test_compute_score_right_and_wrong():
    right = compute_score("math_dapo", "... so the answer is \\boxed{156}.", "156", {"num_turns": 4})
    assert right == {"score": 1.0, "acc": True, "pred": "156"}
    wrong = compute_score("math_dapo", "... so the answer is \\boxed{155}.", "156", {"num_turns": 4})
    assert wrong == {"score": -1.0, "acc": False, "pred": "155"}
    nothing = compute_score("math_dapo", "I do not know.", "156")
    assert nothing["score"] == -1.0 and nothing["acc"] is False and isinstance(nothing["pred"], str)


def test_compute_score_equivalence_and_options():
    assert compute_score("x", "\\boxed{\\frac{1}{2}}", "0.5")["acc"] is True
    assert compute_score("x", "\\boxed{7}", ["6", "7"])["acc"] is True
    np = pytest.importorskip("numpy")
    assert compute_score("x", "\\boxed{7}", np.array(["7"]))["acc"] is True
    assert compute_score("x", "\\boxed{7}", "7", correct_score=2.0)["score"] == 2.0
    # verl passes extra keyword arguments (other reward kwargs): ignored
    assert compute_score(data_source="x", solution_str="\\boxed{7}", ground_truth="7", extra_info=None, foo=1)["acc"]


def test_compute_score_tool_shaping_counts_calls_from_num_turns():
    wrong = "\\boxed{1}"
    # num_turns = user + assistant turns + 1; 6 turns = 2 rounds of tool results = 2 calls
    assert compute_score("x", wrong, "2", {"num_turns": 6}, tool_shaping=True)["score"] == -1.0
    # 10 turns = 4 calls: min(-0.6, -1 + (4 - 2) / 2 * 0.1) = -0.9
    assert compute_score("x", wrong, "2", {"num_turns": 10}, tool_shaping=True)["score"] == pytest.approx(-0.9)
    # no tool call: -1.1 (the same rule slime's retool.reward_func applies)
    assert compute_score("x", wrong, "2", {"num_turns": 2}, tool_shaping=True)["score"] == pytest.approx(-1.1)
    # an explicit count wins; the flag may arrive as a string from Hydra
    explicit = compute_score("x", wrong, "2", {"num_turns": 2, "tool_call_count": 8}, tool_shaping="true")
    assert explicit["score"] == pytest.approx(-0.7)
    assert compute_score("x", wrong, "2", {"num_turns": 10}, tool_shaping="false")["score"] == -1.0
    assert compute_score("x", "\\boxed{2}", "2", {"num_turns": 2}, tool_shaping=True)["score"] == 1.0


def test_compute_score_dapo_mode():
    assert compute_score("x", "so \\boxed{156}", "156", mode="dapo")["acc"] is True


# ---------------------------------------------------------------------------------------------
# rl_scripts/verl_tool_config.yaml and rl_scripts/verl_reward.py
# ---------------------------------------------------------------------------------------------
def test_tool_config_yaml_matches_verl_layout():
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the tool config")
    doc = yaml.safe_load(TOOL_CONFIG.read_text())
    [entry] = doc["tools"]
    assert entry["config"]["type"] == "native"
    assert entry["tool_schema"] == CodeInterpreterTool().schema
    module_name, _, class_name = entry["class_name"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    assert cls is CodeInterpreterVerlTool
    # what verl's initialize_tools_from_config does with the entry
    tool = cls(config=entry["config"], tool_schema=OpenAIFunctionToolSchema.model_validate(entry["tool_schema"]))
    assert tool.name == "code_interpreter" and tool.sandbox_config.workers == entry["config"]["sandbox_workers"]


def test_reward_file_loads_the_way_verl_loads_it():
    """By file location, outside any package and not registered in sys.modules."""
    spec = importlib.util.spec_from_file_location("custom_module_test", REWARD_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.compute_score is compute_score
    assert module.compute_score(data_source="x", solution_str="\\boxed{3}", ground_truth="3", extra_info={})["acc"]
