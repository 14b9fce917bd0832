#!/usr/bin/env bash
# ReTool stage 2 with slime: GRPO from the SFT checkpoint on DAPO-Math-17k, with our rollout
# (retool.generate: multi-turn code_interpreter calls run in our sandbox) and reward
# (retool.reward_func: math answer equivalence, ReTool's tool-use shaping).
#
# Usage: rl_scripts/retool_qwen3_4b_rl.sh [--dry-run] [--help] [EXTRA SLIME FLAGS...]
#
# --dry-run (or DRY_RUN=1) checks everything that can be checked without GPUs -- the prompt and eval
# files and their layout (python -m sft check --kind slime-rl), the model directory, that retool's
# hooks import, that the retool options file parses and retool accepts its values, that
# `python -m sandbox check` passes, that no extra flag is one slime would drop silently (it parses
# with parse_known_args: a --retool-* flag is ignored, not rejected; our settings are RETOOL_*
# variables and CUSTOM_CONFIG_PATH keys) and that --rollout-top-p is 1.0 (below it slime asserts
# top-p token ids retool.generate does not return) -- reports slime/Megatron/ray (and the SFT checkpoint, which the
# SFT stage writes) as skipped when absent here, prints the final command on stdout and exits 0
# (non-zero, naming the variable to set, when a check fails). A real run requires all of them,
# starts a ray head only if none is running (and stops only that one on exit), then submits
# slime's train.py.
#
# Flags match THUDM/slime examples/retool/retool_qwen3_4b_rl.sh and slime/utils/arguments.py
# (slime main, 2025-2026), with --custom-generate-function-path retool.generate,
# --custom-rm-path retool.reward_func (it returns {"score", "acc", "pred"}: --reward-key score),
# --custom-reward-post-process-path retool.integrations.slime.reward_post_process (slime's GRPO group
# normalisation, with rollouts that failed for a reason of ours left out of their group's mean and
# std) and --custom-config-path for the reward's options; it kills nothing it did not start.
#
# Prompts: our retool.generate renders a list-of-messages prompt itself, declaring the tool in the
# chat template; slime's --apply-chat-template would render it without the tool (the data has no
# tools column), so it is off by default (APPLY_CHAT_TEMPLATE=1 turns it on). A string prompt reaches
# retool.generate as already rendered: plain-text strings (python -m sft rl-data --prompt-style retool)
# would be tokenised without any chat template, so the checks refuse them unless RAW_PROMPTS=1.
#
# Format: the slime SFT stage trains on ReTool's inline text (python -m sft prepare --format slime:
# <code>```python ...```</code> then <interpreter>...</interpreter>), so the rollout defaults to
# the same bytes: RETOOL_CALL_FORMAT=code, RETOOL_OBSERVATION_FORMAT=interpreter. Prompts made with
# --instruction-from carry the SFT data's own instructions.
#
# Make the data first:
#   python -m sft rl-data --input DAPO-Math-17k.parquet --instruction-from train_2000.parquet --output "$RL_DATA"
#   python -m sft rl-data --input AIME-2024.parquet --instruction-from train_2000.parquet --output "$EVAL_DATA"
#
# Environment (default):
#   PYTHON            project interpreter for the checks (.venv/bin/python if present, else python3)
#   TRAIN_PYTHON      interpreter of the slime environment, run by ray (python3); retool must be
#                     importable there too (pip install -e this repo; PYTHONPATH includes it)
#   SLIME_DIR (/root/slime)  MEGATRON_DIR (/root/Megatron-LM)
#   MODEL_ARGS_FILE   slime's model flags ($SLIME_DIR/scripts/models/qwen3-4B.sh)
#   MODEL_DIR         Hugging Face checkpoint for the tokenizer and SGLang (/root/models/Qwen3-4B-Instruct-2507)
#   REF_LOAD          the SFT stage's Megatron checkpoint (/root/checkpoints/qwen3-4b-retool-sft-slime)
#   SAVE_DIR          RL checkpoints, also resumed from (/root/checkpoints/qwen3-4b-retool-rl-slime)
#   DATA_DIR          default folder of the data files ($REPO_DIR/data)
#   RL_DATA           slime-layout prompts, JSONL or parquet ($DATA_DIR/dapo_math_17k.slime.jsonl)
#   EVAL_DATA         slime-layout eval prompts ($DATA_DIR/aime_2024.slime.jsonl); empty: no eval
#   EVAL_NAME (aime)
#   CUSTOM_CONFIG_PATH  reward options for retool.reward_func (rl_scripts/retool_slime_config.yaml)
#   APPLY_CHAT_TEMPLATE (0)  RAW_PROMPTS (0: plain-text string prompts are refused, see above)
#   RETOOL_MAX_TURNS (8)  RETOOL_MAX_TOOL_CALLS (16)  RETOOL_CALL_FORMAT (code, as the SFT data)
#   RETOOL_OBSERVATION_FORMAT (interpreter, as the SFT data)  RETOOL_MAX_OBSERVATION_TOKENS (512)  RETOOL_MAX_OBSERVATION_CHARS (4096)
#   RETOOL_TOOL_TIMEOUT_S (10)  RETOOL_TOOL_MEMORY_MB (1024)  RETOOL_SANDBOX_WORKERS (one per core)
#   RETOOL_STOP_AT_CALL_END (1)  RETOOL_ENGINE_KIND (sglang): retool.generate's settings; the ones set
#                     are forwarded to every rollout worker through ray's runtime env (defaults: retool's)
#   NUM_NODES (1)  NUM_GPUS per node (2)  COLOCATE (1)  TP_SIZE (2)  PP_SIZE (1)  CP_SIZE (1)
#   ROLLOUT_GPUS_PER_ENGINE (2)  SGLANG_MEM_FRACTION (0.7)  MAX_TOKENS_PER_GPU (9216)
#   NUM_ROLLOUT (3000)  ROLLOUT_BATCH_SIZE (32)  N_SAMPLES_PER_PROMPT (8)  GLOBAL_BATCH_SIZE (256)
#   ROLLOUT_MAX_RESPONSE_LEN (8192)  ROLLOUT_TEMPERATURE (1.0)
#   EVAL_INTERVAL (20)  N_SAMPLES_PER_EVAL_PROMPT (16)  EVAL_MAX_RESPONSE_LEN (16384)  EVAL_TOP_P (1.0)
#   LR (1e-6)  WEIGHT_DECAY (0.1)  ADAM_BETA1 (0.9)  ADAM_BETA2 (0.98)
#   KL_LOSS_COEF (0.0)  KL_LOSS_TYPE (low_var_kl)  ENTROPY_COEF (0.0)  EPS_CLIP (0.2)  EPS_CLIP_HIGH (0.28)
#   SAVE_INTERVAL (20)  ROTARY_BASE (5000000)  ATTENTION_BACKEND (flash)
#   USE_WANDB (0)  WANDB_PROJECT (retool)  WANDB_GROUP (qwen3-4b-rl); key from WANDB_API_KEY only
#   MASTER_ADDR (127.0.0.1)  RAY_PORT (6379)  RAY_DASHBOARD_PORT (8265)
#   NCCL_NVLS_ENABLE  (1 when nvidia-smi shows NVLink, else 0)
#   SKIP_SANDBOX_CHECK (0)
set -euo pipefail

# shellcheck source=rl_scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
parse_args "$@"

TRAIN_PYTHON="${TRAIN_PYTHON:-python3}"
SLIME_DIR="${SLIME_DIR:-/root/slime}"
MEGATRON_DIR="${MEGATRON_DIR:-/root/Megatron-LM}"
MODEL_ARGS_FILE="${MODEL_ARGS_FILE:-$SLIME_DIR/scripts/models/qwen3-4B.sh}"
MODEL_DIR="${MODEL_DIR:-/root/models/Qwen3-4B-Instruct-2507}"
REF_LOAD="${REF_LOAD:-/root/checkpoints/qwen3-4b-retool-sft-slime}"
SAVE_DIR="${SAVE_DIR:-/root/checkpoints/qwen3-4b-retool-rl-slime}"
DATA_DIR="${DATA_DIR:-$REPO_DIR/data}"
RL_DATA="${RL_DATA:-$DATA_DIR/dapo_math_17k.slime.jsonl}"
EVAL_DATA="${EVAL_DATA-$DATA_DIR/aime_2024.slime.jsonl}"
EVAL_NAME="${EVAL_NAME:-aime}"
CUSTOM_CONFIG_PATH="${CUSTOM_CONFIG_PATH:-$RL_SCRIPTS_DIR/retool_slime_config.yaml}"
APPLY_CHAT_TEMPLATE="${APPLY_CHAT_TEMPLATE:-0}"
RAW_PROMPTS="${RAW_PROMPTS:-0}"
# the rollout speaks the format the slime SFT stage trained on (see "Format" above)
export RETOOL_CALL_FORMAT="${RETOOL_CALL_FORMAT:-code}"
export RETOOL_OBSERVATION_FORMAT="${RETOOL_OBSERVATION_FORMAT:-interpreter}"
NUM_NODES="${NUM_NODES:-1}"
NUM_GPUS="${NUM_GPUS:-2}"
COLOCATE="${COLOCATE:-1}"
TP_SIZE="${TP_SIZE:-2}"
PP_SIZE="${PP_SIZE:-1}"
CP_SIZE="${CP_SIZE:-1}"
ROLLOUT_GPUS_PER_ENGINE="${ROLLOUT_GPUS_PER_ENGINE:-2}"
SGLANG_MEM_FRACTION="${SGLANG_MEM_FRACTION:-0.7}"
MAX_TOKENS_PER_GPU="${MAX_TOKENS_PER_GPU:-9216}"
NUM_ROLLOUT="${NUM_ROLLOUT:-3000}"
ROLLOUT_BATCH_SIZE="${ROLLOUT_BATCH_SIZE:-32}"
N_SAMPLES_PER_PROMPT="${N_SAMPLES_PER_PROMPT:-8}"
GLOBAL_BATCH_SIZE="${GLOBAL_BATCH_SIZE:-256}"
ROLLOUT_MAX_RESPONSE_LEN="${ROLLOUT_MAX_RESPONSE_LEN:-8192}"
ROLLOUT_TEMPERATURE="${ROLLOUT_TEMPERATURE:-1.0}"
EVAL_INTERVAL="${EVAL_INTERVAL:-20}"
N_SAMPLES_PER_EVAL_PROMPT="${N_SAMPLES_PER_EVAL_PROMPT:-16}"
EVAL_MAX_RESPONSE_LEN="${EVAL_MAX_RESPONSE_LEN:-16384}"
EVAL_TOP_P="${EVAL_TOP_P:-1.0}"
LR="${LR:-1e-6}"
WEIGHT_DECAY="${WEIGHT_DECAY:-0.1}"
ADAM_BETA1="${ADAM_BETA1:-0.9}"
ADAM_BETA2="${ADAM_BETA2:-0.98}"
KL_LOSS_COEF="${KL_LOSS_COEF:-0.0}"
KL_LOSS_TYPE="${KL_LOSS_TYPE:-low_var_kl}"
ENTROPY_COEF="${ENTROPY_COEF:-0.0}"
EPS_CLIP="${EPS_CLIP:-0.2}"
EPS_CLIP_HIGH="${EPS_CLIP_HIGH:-0.28}"
SAVE_INTERVAL="${SAVE_INTERVAL:-20}"
ROTARY_BASE="${ROTARY_BASE:-5000000}"
ATTENTION_BACKEND="${ATTENTION_BACKEND:-flash}"
USE_WANDB="${USE_WANDB:-0}"
WANDB_PROJECT="${WANDB_PROJECT:-retool}"
WANDB_GROUP="${WANDB_GROUP:-qwen3-4b-rl}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
RAY_PORT="${RAY_PORT:-6379}"
RAY_DASHBOARD_PORT="${RAY_DASHBOARD_PORT:-8265}"
NCCL_NVLS_ENABLE="${NCCL_NVLS_ENABLE:-$(nvlink_available)}"

# ------------------------------------------------------------------ checks
log "checks (dry-run: $(is_dry_run && echo yes || echo no))"
check_data RL_DATA slime-rl "python -m sft rl-data --prompt-style messages --output PATH.jsonl"
if [[ -n "$EVAL_DATA" ]]; then
    check_data EVAL_DATA slime-rl \
        "python -m sft rl-data --prompt-style messages --output PATH.jsonl; EVAL_DATA= disables eval"
else
    skipped "EVAL_DATA is empty: no evaluation during training"
fi
require_hf_checkpoint MODEL_DIR "the Hugging Face checkpoint the SFT stage started from"
require_dir REF_LOAD "the SFT stage's SAVE_DIR: run rl_scripts/retool_qwen3_4b_sft.sh first" real-run
check_python "retool's slime hooks import (retool.generate, retool.reward_func, reward_post_process)" \
    'import retool, retool.integrations.slime as s; retool.generate; retool.reward_func; s.reward_post_process'
for data_var in RL_DATA EVAL_DATA; do
    if [[ -f "${!data_var}" ]]; then
        check_preflight "$data_var=${!data_var}: prompts usable by slime and retool.generate \
(APPLY_CHAT_TEMPLATE=$APPLY_CHAT_TEMPLATE, RAW_PROMPTS=$RAW_PROMPTS)" \
            slime-prompts "${!data_var}" --apply-chat-template "$(is_true "$APPLY_CHAT_TEMPLATE" && echo 1 || echo 0)" \
            --raw-ok "$(is_true "$RAW_PROMPTS" && echo 1 || echo 0)"
    fi
done
require_file CUSTOM_CONFIG_PATH "a YAML of reward_*/retool_* options, e.g. rl_scripts/retool_slime_config.yaml"
if [[ -f "$CUSTOM_CONFIG_PATH" ]]; then
    check_preflight "CUSTOM_CONFIG_PATH and RETOOL_* variables: retool accepts every option" \
        slime-config "$CUSTOM_CONFIG_PATH"
fi
check_preflight "extra flags: none that slime would drop silently, --rollout-top-p 1.0" slime-flags -- "${EXTRA_ARGS[@]}"
check_sandbox
check_slime_stack with-retool
finish_checks

# ------------------------------------------------------------------ command
CKPT_ARGS=(
    --hf-checkpoint "$MODEL_DIR"
    --ref-load "$REF_LOAD"
    --load "$SAVE_DIR"
    --save "$SAVE_DIR"
    --save-interval "$SAVE_INTERVAL"
    --rotary-base "$ROTARY_BASE"
)
ROLLOUT_ARGS=(
    --prompt-data "$RL_DATA"
    --input-key prompt
    --label-key label
)
if is_true "$APPLY_CHAT_TEMPLATE"; then
    ROLLOUT_ARGS+=(--apply-chat-template)
fi
ROLLOUT_ARGS+=(
    --rollout-shuffle
    --reward-key score
    --num-rollout "$NUM_ROLLOUT"
    --rollout-batch-size "$ROLLOUT_BATCH_SIZE"
    --n-samples-per-prompt "$N_SAMPLES_PER_PROMPT"
    --rollout-max-response-len "$ROLLOUT_MAX_RESPONSE_LEN"
    --rollout-temperature "$ROLLOUT_TEMPERATURE"
    --global-batch-size "$GLOBAL_BATCH_SIZE"
    --balance-data
)
EVAL_ARGS=()
if [[ -n "$EVAL_DATA" ]]; then
    EVAL_ARGS=(
        --eval-interval "$EVAL_INTERVAL"
        --eval-prompt-data "$EVAL_NAME" "$EVAL_DATA"
        --n-samples-per-eval-prompt "$N_SAMPLES_PER_EVAL_PROMPT"
        --eval-max-response-len "$EVAL_MAX_RESPONSE_LEN"
        --eval-top-p "$EVAL_TOP_P"
    )
fi
slime_perf_args  # PERF_ARGS, shared with the other slime script (common.sh)
GRPO_ARGS=(
    --advantage-estimator grpo
    --use-kl-loss
    --kl-loss-coef "$KL_LOSS_COEF"
    --kl-loss-type "$KL_LOSS_TYPE"
    --entropy-coef "$ENTROPY_COEF"
    --eps-clip "$EPS_CLIP"
    --eps-clip-high "$EPS_CLIP_HIGH"
)
OPTIMIZER_ARGS=(
    --optimizer adam
    --lr "$LR"
    --lr-decay-style constant
    --weight-decay "$WEIGHT_DECAY"
    --adam-beta1 "$ADAM_BETA1"
    --adam-beta2 "$ADAM_BETA2"
)
slime_wandb_args  # WANDB_ARGS
SGLANG_ARGS=(
    --rollout-num-gpus-per-engine "$ROLLOUT_GPUS_PER_ENGINE"
    --sglang-mem-fraction-static "$SGLANG_MEM_FRACTION"
)
slime_misc_args  # MISC_ARGS
CUSTOM_ARGS=(
    --custom-generate-function-path retool.generate
    --custom-rm-path retool.reward_func
    --custom-reward-post-process-path retool.integrations.slime.reward_post_process
    --custom-config-path "$CUSTOM_CONFIG_PATH"
)
CLUSTER_ARGS=(--actor-num-nodes "$NUM_NODES" --actor-num-gpus-per-node "$NUM_GPUS")
if is_true "$COLOCATE"; then
    CLUSTER_ARGS+=(--colocate)
fi

# retool.generate reads its RETOOL_* settings from the environment of each rollout worker.
RETOOL_ENV=()
while IFS= read -r name; do
    RETOOL_ENV+=("$name=${!name}")
done < <(compgen -e | grep '^RETOOL_' || true)
RUNTIME_ENV_JSON="$("$PYTHON" "$RL_SCRIPTS_DIR/preflight.py" runtime-env \
    "PYTHONPATH=$MEGATRON_DIR:$SLIME_DIR:$REPO_DIR" \
    "CUDA_DEVICE_MAX_CONNECTIONS=1" \
    "NCCL_NVLS_ENABLE=$NCCL_NVLS_ENABLE" \
    "${RETOOL_ENV[@]}")"

CMD=(
    ray job submit --address="http://$MASTER_ADDR:$RAY_DASHBOARD_PORT"
    --runtime-env-json="$RUNTIME_ENV_JSON"
    -- "$TRAIN_PYTHON" "$SLIME_DIR/train.py"
    "${CLUSTER_ARGS[@]}"
    "${MODEL_ARGS[@]}"
    "${CKPT_ARGS[@]}"
    "${ROLLOUT_ARGS[@]}"
    "${OPTIMIZER_ARGS[@]}"
    "${GRPO_ARGS[@]}"
    "${WANDB_ARGS[@]}"
    "${PERF_ARGS[@]}"
    "${EVAL_ARGS[@]}"
    "${SGLANG_ARGS[@]}"
    "${MISC_ARGS[@]}"
    "${CUSTOM_ARGS[@]}"
    "${EXTRA_ARGS[@]}"
)

if ! is_dry_run; then
    export PYTHONUNBUFFERED=1
    ray_start_if_needed "$MASTER_ADDR:$RAY_PORT" "$NUM_GPUS" "$RAY_DASHBOARD_PORT"
fi
run_final "${CMD[@]}"
