"""Checks the rl_scripts run before training, written in Python where bash would be guesswork.

    python rl_scripts/preflight.py verl-tool-config PATH      # verl's tool config: layout, class, schema
    python rl_scripts/preflight.py reward-fn PATH NAME        # load NAME from PATH the way verl does
    python rl_scripts/preflight.py slime-config PATH          # retool_*/reward_* options for slime
    python rl_scripts/preflight.py slime-prompts PATH         # prompts slime and retool.generate can use
    python rl_scripts/preflight.py slime-lr-schedule PATH ... # Megatron's warmup < decay, from the data size
    python rl_scripts/preflight.py slime-flags -- FLAG...     # flags slime would drop or assert on
    python rl_scripts/preflight.py verl-imports MODULE...     # what the verl run imports (TRAIN_PYTHON)
    python rl_scripts/preflight.py runtime-env KEY=VALUE...   # ray's --runtime-env-json, safely quoted

Each check prints one line per finding to stderr and exits 0 (fine) or 1 (a problem, named). Run
with the project's interpreter: it imports ``retool`` but neither verl nor slime (those are checked
separately, and only a real run requires them).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class PreflightError(Exception):
    """A finding that fails the check; the message says what to fix."""


def _say(message: str) -> None:
    print(f"  {message}", file=sys.stderr)


def _load_yaml(path: str) -> Any:
    try:
        import yaml
    except ImportError as exc:  # PyYAML comes with datasets/transformers; say so if it is gone
        raise PreflightError(f"PyYAML is not installed in {sys.executable}: pip install pyyaml") from exc
    p = Path(path)
    if not p.is_file():
        raise PreflightError(f"{path}: file not found")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PreflightError(f"{path}: not valid YAML: {exc}") from exc


def _import_class(class_name: str) -> type:
    module_name, _, attr = class_name.rpartition(".")
    if not module_name:
        raise PreflightError(f"class_name {class_name!r} must be a dotted path (module.Class)")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        raise PreflightError(
            f"class_name {class_name!r}: cannot import {module_name}: {type(exc).__name__}: {exc}"
        ) from exc
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise PreflightError(f"class_name {class_name!r}: {module_name} has no class {attr!r}")
    return cls


def check_verl_tool_config(path: str) -> None:
    """verl's ``initialize_tools_from_config`` contract: ``tools`` is a list of entries with an
    importable ``class_name``, a ``config`` mapping whose ``type`` is ``native`` and an OpenAI
    ``tool_schema``; each class is instantiated with them, as verl does at start-up."""
    from retool.integrations.verl import CodeInterpreterVerlTool, OpenAIFunctionToolSchema
    from retool.tool import CodeInterpreterTool

    doc = _load_yaml(path)
    tools = doc.get("tools") if isinstance(doc, Mapping) else None
    if not isinstance(tools, list) or not tools:
        raise PreflightError(f"{path}: needs a non-empty 'tools' list")
    names = set()
    for i, entry in enumerate(tools):
        where = f"{path}: tools[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("class_name"), str):
            raise PreflightError(f"{where} needs a 'class_name' string")
        config = entry.get("config")
        if not isinstance(config, Mapping):
            raise PreflightError(f"{where} needs a 'config' mapping (with type: native)")
        if config.get("type") != "native":
            raise PreflightError(f"{where}: config.type must be 'native' (got {config.get('type')!r})")
        schema_dict = entry.get("tool_schema")
        if not isinstance(schema_dict, Mapping):
            raise PreflightError(f"{where} needs a 'tool_schema' mapping")
        try:
            schema = OpenAIFunctionToolSchema.model_validate(dict(schema_dict))
        except Exception as exc:  # noqa: BLE001 - pydantic's message names the field
            raise PreflightError(f"{where}: tool_schema is not an OpenAI function schema: {exc}") from exc
        cls = _import_class(entry["class_name"])
        try:
            tool = cls(config=dict(config), tool_schema=schema)
        except Exception as exc:  # noqa: BLE001
            raise PreflightError(
                f"{where}: {entry['class_name']}(config, tool_schema) failed: {type(exc).__name__}: {exc}"
            ) from exc
        if tool.name in names:
            raise PreflightError(f"{where}: a second tool named {tool.name!r}")
        names.add(tool.name)
        if issubclass(cls, CodeInterpreterVerlTool) and dict(schema_dict) != CodeInterpreterTool().schema:
            _say(
                f"warning: {where}: tool_schema differs from CodeInterpreterTool().schema, which the SFT "
                "data declares; the model will see a different tool description in RL than in SFT"
            )
        _say(f"tool {tool.name!r}: {entry['class_name']} {dict(config)}")


def check_reward_fn(path: str, name: str) -> None:
    """Load ``name`` from the file ``path`` exactly as verl's ``custom_reward_function.path`` is
    loaded (by file location, outside any package) and check it takes verl's arguments."""
    p = Path(path)
    if not p.is_file():
        raise PreflightError(f"{path}: file not found")
    spec = importlib.util.spec_from_file_location("custom_module", p)
    if spec is None or spec.loader is None:
        raise PreflightError(f"{path}: not a loadable Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001
        raise PreflightError(f"{path}: loading it as verl does failed: {type(exc).__name__}: {exc}") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        raise PreflightError(f"{path} has no function {name!r}")
    try:
        inspect.signature(fn).bind(data_source="x", solution_str="", ground_truth="", extra_info={})
    except TypeError as exc:
        raise PreflightError(f"{path}:{name} does not take verl's keyword arguments: {exc}") from exc
    _say(f"reward function {name} from {path}")


# The options retool reads from slime's args: the retool_* ones are retool.settings' table (one list),
# the reward_* ones reward_func's (retool/integrations/slime.py). retool_engine / retool_tool are objects, not YAML.
def _retool_options() -> frozenset[str]:
    """``args.retool_*`` names `retool.generate` reads: the settings table's, in lower case."""
    from retool.settings import VARIABLES, RolloutConfig, SlimeConfig, ToolConfig

    return frozenset(v.name.lower() for v in VARIABLES if v.owner in (RolloutConfig, ToolConfig, SlimeConfig))


REWARD_OPTIONS = frozenset({
    "reward_mode", "reward_tool_shaping", "reward_timeout_s", "reward_strict_box_verify", "reward_dapo_variant",
})


def slime_options() -> frozenset[str]:
    """Every option `retool.generate` and `retool.reward_func` read from slime's args."""
    return _retool_options() | REWARD_OPTIONS
_REWARD_MODES = ("math", "dapo")


def check_slime_config(path: str) -> None:
    """The ``--custom-config-path`` file and the ``RETOOL_*`` environment: options that
    ``retool.generate`` and ``retool.reward_func`` accept. A misspelt key or variable would be
    silently ignored by retool, so it is an error here."""
    from retool.integrations.slime import rollout_config

    doc = _load_yaml(path)
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise PreflightError(f"{path}: must be a mapping of option: value")
    options = slime_options()
    unknown = sorted(str(k) for k in doc if k not in options)
    if unknown:
        raise PreflightError(
            f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(options))}"
        )
    from retool.settings import VARIABLES

    env_names = {v.name for v in VARIABLES}
    unknown_env = sorted(k for k in os.environ if k.startswith("RETOOL_") and k not in env_names)
    if unknown_env:
        raise PreflightError(
            f"unknown environment variable(s) {', '.join(unknown_env)}; retool reads {', '.join(sorted(env_names))}"
        )
    args = SimpleNamespace(**dict(doc))
    try:
        rollout_config(args, {}, prompt_tokens=0)  # reads RETOOL_* from the environment too
    except (TypeError, ValueError) as exc:
        raise PreflightError(f"{path} / RETOOL_* environment: {exc}") from exc
    for name in ("retool_tool_timeout_s", "retool_tool_memory_mb", "retool_max_observation_chars",
                 "retool_sandbox_workers", "reward_timeout_s"):
        value = doc.get(name)
        source = f"{path}: {name}"
        if value is None and name.startswith("retool_") and os.environ.get(name.upper(), "").strip():
            value, source = os.environ[name.upper()].strip(), name.upper()
        if value is None:
            continue
        try:
            ok = not isinstance(value, bool) and float(value) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise PreflightError(f"{source} must be a positive number, got {value!r}")
    mode = doc.get("reward_mode", "math")
    if mode not in _REWARD_MODES:
        raise PreflightError(f"{path}: reward_mode must be one of {', '.join(_REWARD_MODES)}, got {mode!r}")
    from_env = {k: v for k, v in os.environ.items() if k in env_names}
    _say(f"retool options: {dict(doc)}" + (f"; from the environment: {from_env}" if from_env else ""))


# Chat-template markers of an already rendered prompt (ChatML/Qwen, Llama 3, Gemma, Mistral).
_RENDERED_MARKERS = ("<|im_start|>", "<|start_header_id|>", "<start_of_turn>", "[INST]")


def check_slime_prompts(path: str, apply_chat_template: bool, raw_ok: bool, sample: int = 50) -> None:
    """How slime and ``retool.generate`` will see the prompts of ``path``.

    slime's ``--apply-chat-template`` renders a list of messages (a string prompt cannot be
    rendered); without it the prompt reaches ``retool.generate`` as is, which renders a list of
    messages itself (declaring the tool) and takes a string as already rendered. A plain-text
    string would then be tokenised without any chat template, which is rarely what is meant.
    """
    from sft.io import read_rows

    kinds = set()
    try:
        for i, row in enumerate(read_rows(path)):
            if i >= sample:
                break
            prompt = row.get("prompt")
            if isinstance(prompt, str):
                kinds.add("rendered" if any(m in prompt for m in _RENDERED_MARKERS) else "text")
            else:
                kinds.add("messages")
    except Exception as exc:  # noqa: BLE001 - the layout check reports the details
        raise PreflightError(f"{path}: cannot read the prompts: {type(exc).__name__}: {exc}") from exc
    if apply_chat_template and kinds - {"messages"}:
        raise PreflightError(
            f"{path}: APPLY_CHAT_TEMPLATE=1 needs prompts that are lists of messages (slime renders them), "
            "but some are strings; make them with python -m sft rl-data --prompt-style messages"
        )
    if not apply_chat_template and "text" in kinds and not raw_ok:
        raise PreflightError(
            f"{path}: prompts are plain-text strings, which retool.generate would tokenise without a chat "
            "template; make them with python -m sft rl-data --prompt-style messages (retool.generate then "
            "renders them with the tool declared), or set RAW_PROMPTS=1 if raw text is meant"
        )
    _say(f"prompts: {', '.join(sorted(kinds)) or 'none'} (apply_chat_template={int(apply_chat_template)})")


def check_slime_lr_schedule(
    path: str, *, num_epoch: int, rollout_batch_size: int, global_batch_size: int, n_samples_per_prompt: int,
    lr_warmup_iters: int | None, lr_warmup_fraction: float | None,
) -> None:
    """Megatron asserts ``lr_warmup_steps < lr_decay_steps`` when it builds the LR scheduler; compute
    both the way slime does for ``--num-epoch`` (THUDM/slime 624b824: ``slime/utils/arguments.py`` sets
    ``num_rollout = num_epoch * rows // rollout_batch_size``; ``slime/backends/megatron_utils/model.py``
    sets ``train_iters = num_rollout * rollout_batch_size * n_samples_per_prompt // global_batch_size``,
    decay steps ``train_iters * global_batch_size``, warmup steps ``fraction * decay`` or
    ``warmup_iters * global_batch_size``), so a too-small data set fails here, not on 8 GPUs."""
    from sft.io import count_rows

    rows = count_rows(path)
    if rows is None:
        _say(f"warning: {path}: row count unknown without a full read; the LR schedule is not checked")
        return
    num_rollout = num_epoch * rows // rollout_batch_size
    train_iters = num_rollout * rollout_batch_size * n_samples_per_prompt // global_batch_size
    decay_steps = train_iters * global_batch_size
    if lr_warmup_fraction is not None:
        warmup_steps = lr_warmup_fraction * decay_steps
        warmup = f"LR_WARMUP_FRACTION={lr_warmup_fraction}"
    else:
        warmup_steps = (lr_warmup_iters or 0) * global_batch_size
        warmup = f"LR_WARMUP_ITERS={lr_warmup_iters}"
    where = (f"{path}: {rows} rows x NUM_EPOCH={num_epoch} / ROLLOUT_BATCH_SIZE={rollout_batch_size} = "
             f"{num_rollout} rollouts, {train_iters} optimizer steps (GLOBAL_BATCH_SIZE={global_batch_size})")
    if train_iters <= 0:
        raise PreflightError(f"{where}: nothing to train; lower ROLLOUT_BATCH_SIZE/GLOBAL_BATCH_SIZE or add data")
    if warmup_steps >= decay_steps:
        raise PreflightError(
            f"{where}: warmup ({warmup}: {warmup_steps:g} samples) is not below the decay length "
            f"({decay_steps} samples), which Megatron asserts at start-up; use LR_WARMUP_FRACTION (e.g. 0.1, "
            "as slime's examples do) or fewer LR_WARMUP_ITERS"
        )
    _say(f"{where}; warmup {warmup_steps:g} < decay {decay_steps} samples")


def _our_setting(flag: str) -> str | None:
    """``retool_max_turns`` for ``--retool-max-turns``; None for a flag that is not one of ours
    (``--reward-key`` is slime's own)."""
    setting = flag.lstrip("-").replace("-", "_")
    return setting if setting.startswith("retool_") or setting in slime_options() else None


def check_slime_flags(flags: list[str]) -> None:
    """Extra flags passed to a slime script: ours would be dropped silently by slime's
    ``parse_known_args``, and ``--rollout-top-p`` below 1.0 makes slime assert top-p token ids that
    ``retool.generate`` does not collect."""
    problems = []
    for i, arg in enumerate(flags):
        name, _, inline = arg.partition("=")
        setting = _our_setting(name) if name.startswith("--") else None
        if setting:
            where = f"the environment variable {setting.upper()}" if setting.startswith("retool_") else \
                f"'{setting}:' in CUSTOM_CONFIG_PATH"
            problems.append(f"{name}: slime parses with parse_known_args and would drop it silently; set {where}")
        if name == "--rollout-top-p":
            value = inline or (flags[i + 1] if i + 1 < len(flags) else "")
            try:
                below = float(value) != 1.0
            except ValueError:
                below = True
            if below:
                problems.append(f"--rollout-top-p {value}: retool.generate does not return the top-p token ids "
                                "slime asserts on each sample below 1.0; use 1.0 (--eval-top-p may be lower)")
    if problems:
        raise PreflightError("; ".join(problems))
    _say(f"extra slime flags: {' '.join(flags) or 'none'}")


def check_verl_imports(modules: list[str]) -> None:
    """Import what the verl run will import, in this interpreter (TRAIN_PYTHON): ``import verl`` alone
    passes on a plain ``pip install verl``, which lacks what the agent loop and the trainers import
    (the ``verl-core`` extra: cachetools, transfer_queue, uvicorn...), and on a verl that no longer has
    a trainer module a script names."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is the finding
            missing.append(f"{module}: {type(exc).__name__}: {exc}")
    if missing:
        raise PreflightError(
            f"{sys.executable} cannot import what the run uses ({'; '.join(missing)}); "
            "install verl with its core extra: pip install 'verl[verl-core]'"
        )
    _say(f"imports: {', '.join(modules)}")


def runtime_env(pairs: list[str]) -> None:
    """Print ray's ``--runtime-env-json`` for KEY=VALUE pairs (JSON-escaped: paths may hold quotes)."""
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PreflightError(f"runtime-env: expected KEY=VALUE, got {pair!r}")
        env[key] = value
    print(json.dumps({"env_vars": env}, separators=(",", ":")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="preflight.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verl-tool-config").add_argument("path")
    p = sub.add_parser("reward-fn")
    p.add_argument("path")
    p.add_argument("name")
    sub.add_parser("slime-config").add_argument("path")
    p = sub.add_parser("slime-prompts")
    p.add_argument("path")
    p.add_argument("--apply-chat-template", type=int, choices=(0, 1), default=0)
    p.add_argument("--raw-ok", type=int, choices=(0, 1), default=0)
    p = sub.add_parser("slime-lr-schedule")
    p.add_argument("path")
    p.add_argument("--num-epoch", type=int, required=True)
    p.add_argument("--rollout-batch-size", type=int, required=True)
    p.add_argument("--global-batch-size", type=int, required=True)
    p.add_argument("--n-samples-per-prompt", type=int, default=1)
    p.add_argument("--lr-warmup-iters", type=int, default=None)
    p.add_argument("--lr-warmup-fraction", type=float, default=None)
    sub.add_parser("slime-flags").add_argument("flags", nargs="*")
    sub.add_parser("verl-imports").add_argument("modules", nargs="+")
    sub.add_parser("runtime-env").add_argument("pairs", nargs="*")
    args = parser.parse_args(argv)
    try:
        if args.command == "verl-tool-config":
            check_verl_tool_config(args.path)
        elif args.command == "reward-fn":
            check_reward_fn(args.path, args.name)
        elif args.command == "slime-config":
            check_slime_config(args.path)
        elif args.command == "slime-prompts":
            check_slime_prompts(args.path, bool(args.apply_chat_template), bool(args.raw_ok))
        elif args.command == "slime-lr-schedule":
            check_slime_lr_schedule(
                args.path, num_epoch=args.num_epoch, rollout_batch_size=args.rollout_batch_size,
                global_batch_size=args.global_batch_size, n_samples_per_prompt=args.n_samples_per_prompt,
                lr_warmup_iters=args.lr_warmup_iters, lr_warmup_fraction=args.lr_warmup_fraction,
            )
        elif args.command == "slime-flags":
            check_slime_flags(args.flags)
        elif args.command == "verl-imports":
            check_verl_imports(args.modules)
        else:
            runtime_env(args.pairs)
    except PreflightError as exc:
        print(f"  {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
