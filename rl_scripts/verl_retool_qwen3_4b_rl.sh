#!/usr/bin/env bash
# ReTool stage 2 with verl: GRPO on DAPO-Math-17k from the SFT checkpoint, multi-turn rollouts through
# verl's tool agent loop with our code_interpreter tool (retool.integrations.verl.CodeInterpreterVerlTool,
# code run in our sandbox) and our reward (retool.integrations.verl.compute_score).
#
# Usage: rl_scripts/verl_retool_qwen3_4b_rl.sh [--dry-run] [--help] [EXTRA HYDRA OVERRIDES...]
#
# --dry-run (or DRY_RUN=1) checks everything that can be checked without GPUs -- the train/val files
# and their layout (python -m sft check --kind verl-rl), the model directory, that
# retool.integrations.verl imports, that the tool config parses and its class_name imports and
# accepts its config, that the reward function loads from its file the way verl loads it, that
# `python -m sandbox check` passes -- reports verl (and the SFT checkpoint) as skipped when absent
# here, prints the final command on stdout and exits 0 (non-zero, naming the variable to set, when a
# check fails). Where TRAIN_PYTHON has verl, it must import the modules the run uses (the trainer,
# the tool agent loop, the rollout server: a plain `pip install verl` lacks their dependencies; install
# 'verl[verl-core]'). A real run requires verl in TRAIN_PYTHON; verl's main_ppo starts (and ends) its own
# local ray, so this script starts and stops nothing else.
#
# Flags match verl's recipe/retool/run_qwen2_7b_dapo.sh and verl-project/verl main configs
# (ppo_trainer.yaml, rollout/rollout.yaml: multi_turn.*, mode=async agent loop; 2025-2026). Rows
# carry agent_name=tool_agent, which selects verl's ToolAgentLoop. Validation samples
# (val_kwargs.do_sample=True) so that val_kwargs.n > 1 means something.
#
# Make the data first:
#   python -m sft rl-data --input DAPO-Math-17k.parquet --output "$RL_DATA"
#   python -m sft rl-data --input AIME-2024.parquet --output "$VAL_DATA"
#
# Environment (default):
#   PYTHON            project interpreter for the checks (.venv/bin/python if present, else python3)
#   TRAIN_PYTHON      interpreter of the verl environment (python3); retool must import there too
#   SFT_SAVE_DIR      the SFT stage's SAVE_DIR (/root/checkpoints/qwen3-4b-retool-sft-verl)
#   MODEL_DIR         the SFT model as a Hugging Face checkpoint (the newest
#                     $SFT_SAVE_DIR/global_step_N/huggingface)
#   SAVE_DIR          checkpoints (/root/checkpoints/qwen3-4b-retool-rl-verl)
#   DATA_DIR          default folder of the data files ($REPO_DIR/data)
#   RL_DATA           verl-layout prompts parquet ($DATA_DIR/dapo_math_17k.verl.parquet)
#   VAL_DATA          verl-layout validation parquet ($DATA_DIR/aime_2024.verl.parquet)
#   TOOL_CONFIG       verl tool config (rl_scripts/verl_tool_config.yaml)
#   REWARD_FN_PATH    file verl loads compute_score from (rl_scripts/verl_reward.py)
#   REWARD_FN_KEY     config group of the reward function (custom_reward_function; newer verl also
#                     reads reward.custom_reward_function)
#   REWARD_MODE (math)  REWARD_TOOL_SHAPING (True)  passed as reward_kwargs to compute_score
#   ROLLOUT_ENGINE (vllm; or sglang)  NUM_NODES (1)  NUM_GPUS per node (8)
#   INFER_TP (4)  TRAIN_SP (4)  OFFLOAD (True)  GPU_MEMORY_UTILIZATION (0.9)
#   MAX_TURNS (16)  MAX_PARALLEL_CALLS (1)  MAX_TOOL_RESPONSE_LENGTH (4096)  TOOL_FORMAT (hermes)
#   MAX_PROMPT_LENGTH (2048)  MAX_RESPONSE_LENGTH (16384)  TRAIN_BATCH_SIZE (64)  PPO_MINI_BATCH_SIZE (16)
#   N_RESP_PER_PROMPT (16)  N_RESP_PER_PROMPT_VAL (30)  VAL_TOP_P (0.6)  VAL_TEMPERATURE (1.0)
#   LR (1e-6)  CLIP_RATIO_LOW (0.2)  CLIP_RATIO_HIGH (0.28)  KL_COEF (0.0)
#   TOTAL_EPOCHS (1)  SAVE_FREQ (20)  TEST_FREQ (10)  PROJECT_NAME (retool)
#   EXPERIMENT_NAME (qwen3-4b-retool-rl-verl)  LOGGER (['console'])
#   SKIP_SANDBOX_CHECK (0)
set -euo pipefail

# shellcheck source=rl_scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
parse_args "$@"

TRAIN_PYTHON="${TRAIN_PYTHON:-python3}"
SFT_SAVE_DIR="${SFT_SAVE_DIR:-/root/checkpoints/qwen3-4b-retool-sft-verl}"
MODEL_DIR="${MODEL_DIR:-$(latest_hf_export "$SFT_SAVE_DIR")}"
MODEL_DIR="${MODEL_DIR:-$SFT_SAVE_DIR/global_step_N/huggingface}"
SAVE_DIR="${SAVE_DIR:-/root/checkpoints/qwen3-4b-retool-rl-verl}"
DATA_DIR="${DATA_DIR:-$REPO_DIR/data}"
RL_DATA="${RL_DATA:-$DATA_DIR/dapo_math_17k.verl.parquet}"
VAL_DATA="${VAL_DATA:-$DATA_DIR/aime_2024.verl.parquet}"
TOOL_CONFIG="${TOOL_CONFIG:-$RL_SCRIPTS_DIR/verl_tool_config.yaml}"
REWARD_FN_PATH="${REWARD_FN_PATH:-$RL_SCRIPTS_DIR/verl_reward.py}"
REWARD_FN_KEY="${REWARD_FN_KEY:-custom_reward_function}"
REWARD_MODE="${REWARD_MODE:-math}"
REWARD_TOOL_SHAPING="${REWARD_TOOL_SHAPING:-True}"
ROLLOUT_ENGINE="${ROLLOUT_ENGINE:-vllm}"
NUM_NODES="${NUM_NODES:-1}"
NUM_GPUS="${NUM_GPUS:-8}"
INFER_TP="${INFER_TP:-4}"
TRAIN_SP="${TRAIN_SP:-4}"
OFFLOAD="${OFFLOAD:-True}"
GPU_MEMORY_UTILIZATION="${GPU_MEMORY_UTILIZATION:-0.9}"
MAX_TURNS="${MAX_TURNS:-16}"
MAX_PARALLEL_CALLS="${MAX_PARALLEL_CALLS:-1}"
MAX_TOOL_RESPONSE_LENGTH="${MAX_TOOL_RESPONSE_LENGTH:-4096}"
TOOL_FORMAT="${TOOL_FORMAT:-hermes}"
MAX_PROMPT_LENGTH="${MAX_PROMPT_LENGTH:-2048}"
MAX_RESPONSE_LENGTH="${MAX_RESPONSE_LENGTH:-16384}"
TRAIN_BATCH_SIZE="${TRAIN_BATCH_SIZE:-64}"
PPO_MINI_BATCH_SIZE="${PPO_MINI_BATCH_SIZE:-16}"
N_RESP_PER_PROMPT="${N_RESP_PER_PROMPT:-16}"
N_RESP_PER_PROMPT_VAL="${N_RESP_PER_PROMPT_VAL:-30}"
VAL_TOP_P="${VAL_TOP_P:-0.6}"
VAL_TEMPERATURE="${VAL_TEMPERATURE:-1.0}"
LR="${LR:-1e-6}"
CLIP_RATIO_LOW="${CLIP_RATIO_LOW:-0.2}"
CLIP_RATIO_HIGH="${CLIP_RATIO_HIGH:-0.28}"
KL_COEF="${KL_COEF:-0.0}"
TOTAL_EPOCHS="${TOTAL_EPOCHS:-1}"
SAVE_FREQ="${SAVE_FREQ:-20}"
TEST_FREQ="${TEST_FREQ:-10}"
PROJECT_NAME="${PROJECT_NAME:-retool}"
EXPERIMENT_NAME="${EXPERIMENT_NAME:-qwen3-4b-retool-rl-verl}"
LOGGER="${LOGGER:-['console']}"

# ------------------------------------------------------------------ checks
log "checks (dry-run: $(is_dry_run && echo yes || echo no))"
check_data RL_DATA verl-rl "python -m sft rl-data --output PATH.parquet"
check_data VAL_DATA verl-rl "python -m sft rl-data --output PATH.parquet"
require_hf_checkpoint MODEL_DIR \
    "the SFT stage's Hugging Face export; run rl_scripts/verl_retool_qwen3_4b_sft.sh first" real-run
case "$ROLLOUT_ENGINE" in
    vllm | sglang) ok "ROLLOUT_ENGINE=$ROLLOUT_ENGINE" ;;
    *) fail "ROLLOUT_ENGINE=$ROLLOUT_ENGINE: set ROLLOUT_ENGINE to vllm or sglang" ;;
esac
case "$REWARD_MODE" in
    math | dapo) ok "REWARD_MODE=$REWARD_MODE" ;;
    *) fail "REWARD_MODE=$REWARD_MODE: set REWARD_MODE to math or dapo" ;;
esac
check_python "retool.integrations.verl imports (CodeInterpreterVerlTool, compute_score)" \
    'import retool.integrations.verl as v; v.CodeInterpreterVerlTool; v.compute_score'
require_file TOOL_CONFIG "a verl tool config such as rl_scripts/verl_tool_config.yaml"
if [[ -f "$TOOL_CONFIG" ]]; then
    check_preflight "TOOL_CONFIG=$TOOL_CONFIG parses; its class_name imports and accepts its config" \
        verl-tool-config "$TOOL_CONFIG"
fi
require_file REWARD_FN_PATH "a file defining compute_score, such as rl_scripts/verl_reward.py"
if [[ -f "$REWARD_FN_PATH" ]]; then
    check_preflight "REWARD_FN_PATH=$REWARD_FN_PATH loads the way verl loads it (compute_score)" \
        reward-fn "$REWARD_FN_PATH" compute_score
fi
check_sandbox
check_framework verl "$TRAIN_PYTHON" verl TRAIN_PYTHON
# what the run imports: the trainer, the tool agent loop and tool registry, the rollout server glue
# (uvicorn, cachetools, transfer_queue come only with verl[verl-core], not with a plain `pip install verl`)
check_trainer_modules "verl's RL trainer and agent loop" "$TRAIN_PYTHON" TRAIN_PYTHON \
    verl.trainer.main_ppo verl.experimental.agent_loop.tool_agent_loop verl.tools.tool_registry \
    verl.workers.rollout.utils
check_trainer_imports_retool "$TRAIN_PYTHON" "$REPO_DIR" TRAIN_PYTHON "import verl
import retool.integrations.verl as v
assert v.VERL_AVAILABLE, 'this verl lacks verl.tools.schemas.ToolResponse (the tool API retool matches): upgrade it'"
finish_checks

# ------------------------------------------------------------------ command
ACTOR_MAX_TOKEN_LEN_PER_GPU=$((MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH))
LOG_PROB_MAX_TOKEN_LEN_PER_GPU=$((ACTOR_MAX_TOKEN_LEN_PER_GPU * 4))

CMD=(
    env "PYTHONPATH=$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}"
    "$TRAIN_PYTHON" -m verl.trainer.main_ppo
    algorithm.adv_estimator=grpo
    algorithm.use_kl_in_reward=False
    "algorithm.kl_ctrl.kl_coef=$KL_COEF"
    "data.train_files=['$RL_DATA']"
    "data.val_files=['$VAL_DATA']"
    data.return_raw_chat=True
    "data.train_batch_size=$TRAIN_BATCH_SIZE"
    "data.max_prompt_length=$MAX_PROMPT_LENGTH"
    "data.max_response_length=$MAX_RESPONSE_LENGTH"
    data.filter_overlong_prompts=True
    data.truncation=error
    "$REWARD_FN_KEY.path=$REWARD_FN_PATH"
    "$REWARD_FN_KEY.name=compute_score"
    "++$REWARD_FN_KEY.reward_kwargs.mode=$REWARD_MODE"
    "++$REWARD_FN_KEY.reward_kwargs.tool_shaping=$REWARD_TOOL_SHAPING"
    "actor_rollout_ref.model.path=$MODEL_DIR"
    actor_rollout_ref.model.use_remove_padding=True
    actor_rollout_ref.model.enable_gradient_checkpointing=True
    actor_rollout_ref.actor.use_kl_loss=False
    actor_rollout_ref.actor.kl_loss_coef=0.0
    "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
    "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
    actor_rollout_ref.actor.clip_ratio_c=10.0
    "actor_rollout_ref.actor.optim.lr=$LR"
    actor_rollout_ref.actor.use_dynamic_bsz=True
    "actor_rollout_ref.actor.ppo_mini_batch_size=$PPO_MINI_BATCH_SIZE"
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$ACTOR_MAX_TOKEN_LEN_PER_GPU"
    "actor_rollout_ref.actor.ulysses_sequence_parallel_size=$TRAIN_SP"
    "actor_rollout_ref.actor.fsdp_config.param_offload=$OFFLOAD"
    "actor_rollout_ref.actor.fsdp_config.optimizer_offload=$OFFLOAD"
    "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=$LOG_PROB_MAX_TOKEN_LEN_PER_GPU"
    "actor_rollout_ref.rollout.name=$ROLLOUT_ENGINE"
    actor_rollout_ref.rollout.mode=async
    "actor_rollout_ref.rollout.tensor_model_parallel_size=$INFER_TP"
    "actor_rollout_ref.rollout.gpu_memory_utilization=$GPU_MEMORY_UTILIZATION"
    actor_rollout_ref.rollout.multi_turn.enable=True
    "actor_rollout_ref.rollout.multi_turn.max_user_turns=$MAX_TURNS"
    "actor_rollout_ref.rollout.multi_turn.max_assistant_turns=$MAX_TURNS"
    "actor_rollout_ref.rollout.multi_turn.max_parallel_calls=$MAX_PARALLEL_CALLS"
    "actor_rollout_ref.rollout.multi_turn.max_tool_response_length=$MAX_TOOL_RESPONSE_LENGTH"
    "actor_rollout_ref.rollout.multi_turn.tool_config_path=$TOOL_CONFIG"
    "actor_rollout_ref.rollout.multi_turn.format=$TOOL_FORMAT"
    "actor_rollout_ref.rollout.n=$N_RESP_PER_PROMPT"
    "actor_rollout_ref.rollout.val_kwargs.top_p=$VAL_TOP_P"
    "actor_rollout_ref.rollout.val_kwargs.temperature=$VAL_TEMPERATURE"
    "actor_rollout_ref.rollout.val_kwargs.n=$N_RESP_PER_PROMPT_VAL"
    actor_rollout_ref.rollout.val_kwargs.do_sample=True
    "trainer.logger=$LOGGER"
    "trainer.project_name=$PROJECT_NAME"
    "trainer.experiment_name=$EXPERIMENT_NAME"
    "trainer.n_gpus_per_node=$NUM_GPUS"
    "trainer.nnodes=$NUM_NODES"
    trainer.val_before_train=True
    trainer.log_val_generations=20
    "trainer.save_freq=$SAVE_FREQ"
    "trainer.test_freq=$TEST_FREQ"
    "trainer.default_local_dir=$SAVE_DIR"
    "trainer.total_epochs=$TOTAL_EPOCHS"
    "${EXTRA_ARGS[@]}"
)
run_final "${CMD[@]}"
