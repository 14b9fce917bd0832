#!/usr/bin/env bash
# ReTool stage 1 with slime: SFT of Qwen3-4B on ReTool-SFT (code interleaved in the reasoning).
#
# Usage: rl_scripts/retool_qwen3_4b_sft.sh [--dry-run] [--help] [EXTRA SLIME FLAGS...]
#
# --dry-run (or DRY_RUN=1) checks everything that can be checked without GPUs -- the data file and
# its layout (python -m sft check --kind slime-sft), the model directory, that `retool` imports,
# that `python -m sandbox check` passes -- reports slime/Megatron/ray as skipped when they are not
# installed here, checks the LR schedule Megatron builds from the data size (warmup must stay below
# the decay length, which Megatron asserts at start-up) and that no extra flag is one slime would
# drop (it parses with parse_known_args: an unknown flag is ignored, not rejected), prints the final
# command on stdout and exits 0 (non-zero, naming the variable to set, when a check fails). A real run also requires slime, Megatron and ray, starts a ray head only
# if none is running (and stops only that one on exit), then submits slime's train_async.py.
#
# Flags match THUDM/slime examples/retool/retool_qwen3_4b_sft.sh and slime/utils/arguments.py
# (slime main, 2025-2026), except that it kills nothing it did not start.
#
# Make the data first:
#   python -m sft prepare --input ReTool-SFT.parquet --format slime --output "$SFT_DATA"
#
# Environment (default):
#   PYTHON            project interpreter for the checks (.venv/bin/python if present, else python3)
#   TRAIN_PYTHON      interpreter of the slime environment, run by ray (python3)
#   SLIME_DIR         slime checkout (/root/slime)
#   MEGATRON_DIR      Megatron-LM checkout (/root/Megatron-LM)
#   MODEL_ARGS_FILE   slime's model flags for Qwen3-4B ($SLIME_DIR/scripts/models/qwen3-4B.sh)
#   MODEL_DIR         Hugging Face checkpoint: tokenizer and architecture (/root/models/Qwen3-4B-Instruct-2507)
#   REF_LOAD          the same weights in Megatron torch_dist format (${MODEL_DIR}_torch_dist; make it
#                     with slime's tools/convert_hf_to_torch_dist.py)
#   SAVE_DIR          where checkpoints go (/root/checkpoints/qwen3-4b-retool-sft-slime); the RL
#                     script reads it as its REF_LOAD
#   DATA_DIR          default folder of the data files ($REPO_DIR/data)
#   SFT_DATA          slime-layout SFT data, parquet or JSONL ($DATA_DIR/retool_sft.slime.parquet)
#   NUM_NODES (1)  NUM_GPUS per node (8)  TP_SIZE (1)  PP_SIZE (1)  CP_SIZE (1)
#   MAX_TOKENS_PER_GPU (9216)  NUM_EPOCH (3)  ROLLOUT_BATCH_SIZE (128)  GLOBAL_BATCH_SIZE (128)
#   LR (1e-5)  MIN_LR (1e-6)  LR_DECAY_STYLE (cosine)  WEIGHT_DECAY (0.1)
#   LR_WARMUP_FRACTION (0.1, as slime's examples: a fraction of the decay length, so it fits any
#                     data size)  LR_WARMUP_ITERS (unset; when set, used instead of the fraction)
#   ADAM_BETA1 (0.9)  ADAM_BETA2 (0.95)  SAVE_INTERVAL (1000)  ROTARY_BASE (5000000: Qwen3-4B-2507's)
#   LOSS_MASK_TYPE (qwen)  ATTENTION_BACKEND (flash)
#   USE_WANDB (0)  WANDB_PROJECT (retool)  WANDB_GROUP (qwen3-4b-sft); the key comes from
#                     WANDB_API_KEY in the environment, never from the command line (it is printed)
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
REF_LOAD="${REF_LOAD:-${MODEL_DIR%/}_torch_dist}"
SAVE_DIR="${SAVE_DIR:-/root/checkpoints/qwen3-4b-retool-sft-slime}"
DATA_DIR="${DATA_DIR:-$REPO_DIR/data}"
SFT_DATA="${SFT_DATA:-$DATA_DIR/retool_sft.slime.parquet}"
NUM_NODES="${NUM_NODES:-1}"
NUM_GPUS="${NUM_GPUS:-8}"
TP_SIZE="${TP_SIZE:-1}"
PP_SIZE="${PP_SIZE:-1}"
CP_SIZE="${CP_SIZE:-1}"
MAX_TOKENS_PER_GPU="${MAX_TOKENS_PER_GPU:-9216}"
NUM_EPOCH="${NUM_EPOCH:-3}"
ROLLOUT_BATCH_SIZE="${ROLLOUT_BATCH_SIZE:-128}"
GLOBAL_BATCH_SIZE="${GLOBAL_BATCH_SIZE:-128}"
LR="${LR:-1e-5}"
MIN_LR="${MIN_LR:-1e-6}"
LR_DECAY_STYLE="${LR_DECAY_STYLE:-cosine}"
LR_WARMUP_FRACTION="${LR_WARMUP_FRACTION:-0.1}"
LR_WARMUP_ITERS="${LR_WARMUP_ITERS:-}"
WEIGHT_DECAY="${WEIGHT_DECAY:-0.1}"
ADAM_BETA1="${ADAM_BETA1:-0.9}"
ADAM_BETA2="${ADAM_BETA2:-0.95}"
SAVE_INTERVAL="${SAVE_INTERVAL:-1000}"
ROTARY_BASE="${ROTARY_BASE:-5000000}"
LOSS_MASK_TYPE="${LOSS_MASK_TYPE:-qwen}"
ATTENTION_BACKEND="${ATTENTION_BACKEND:-flash}"
USE_WANDB="${USE_WANDB:-0}"
WANDB_PROJECT="${WANDB_PROJECT:-retool}"
WANDB_GROUP="${WANDB_GROUP:-qwen3-4b-sft}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
RAY_PORT="${RAY_PORT:-6379}"
RAY_DASHBOARD_PORT="${RAY_DASHBOARD_PORT:-8265}"
NCCL_NVLS_ENABLE="${NCCL_NVLS_ENABLE:-$(nvlink_available)}"

# ------------------------------------------------------------------ checks
log "checks (dry-run: $(is_dry_run && echo yes || echo no))"
check_data SFT_DATA slime-sft "python -m sft prepare --format slime --output PATH"
if [[ -n "$LR_WARMUP_ITERS" ]]; then
    WARMUP_ARGS=(--lr-warmup-iters "$LR_WARMUP_ITERS")
else
    WARMUP_ARGS=(--lr-warmup-fraction "$LR_WARMUP_FRACTION")
fi
if [[ -f "$SFT_DATA" ]]; then
    check_preflight "LR schedule: warmup below the decay length for SFT_DATA's size (Megatron asserts it)" \
        slime-lr-schedule "$SFT_DATA" --num-epoch "$NUM_EPOCH" --rollout-batch-size "$ROLLOUT_BATCH_SIZE" \
        --global-batch-size "$GLOBAL_BATCH_SIZE" "${WARMUP_ARGS[@]}"
fi
check_preflight "extra flags: none that slime would drop silently" slime-flags -- "${EXTRA_ARGS[@]}"
require_hf_checkpoint MODEL_DIR "a Hugging Face checkpoint of Qwen3-4B"
require_dir REF_LOAD "slime's tools/convert_hf_to_torch_dist.py makes it from MODEL_DIR" real-run
check_python "retool's slime hooks import (retool.generate, retool.reward_func)" \
    'import retool; retool.generate; retool.reward_func'
check_sandbox
check_slime_stack without-retool
finish_checks

# ------------------------------------------------------------------ command
CKPT_ARGS=(
    --hf-checkpoint "$MODEL_DIR"
    --ref-load "$REF_LOAD"
    --save "$SAVE_DIR"
    --save-interval "$SAVE_INTERVAL"
    --rotary-base "$ROTARY_BASE"
)
SFT_ARGS=(
    --rollout-function-path slime.rollout.sft_rollout.generate_rollout
    --prompt-data "$SFT_DATA"
    --input-key messages
    --rollout-shuffle
    --num-epoch "$NUM_EPOCH"
    --rollout-batch-size "$ROLLOUT_BATCH_SIZE"
    --global-batch-size "$GLOBAL_BATCH_SIZE"
    --loss-type sft_loss
    --loss-mask-type "$LOSS_MASK_TYPE"
    --calculate-per-token-loss
    --disable-compute-advantages-and-returns
    --debug-train-only
)
slime_perf_args  # PERF_ARGS, shared with the other slime script (common.sh)
# Upstream passes both --lr-warmup-iters and --lr-warmup-fraction; Megatron accepts only one of
# them. The fraction is kept: 128 iterations (upstream's count) is longer than the whole decay for
# ReTool-SFT's ~2,000 rows at 128 per step, and Megatron asserts warmup < decay at start-up.
OPTIMIZER_ARGS=(
    --optimizer adam
    --lr "$LR"
    "${WARMUP_ARGS[@]}"
    --lr-decay-style "$LR_DECAY_STYLE"
    --min-lr "$MIN_LR"
    --weight-decay "$WEIGHT_DECAY"
    --adam-beta1 "$ADAM_BETA1"
    --adam-beta2 "$ADAM_BETA2"
)
slime_wandb_args  # WANDB_ARGS
slime_misc_args  # MISC_ARGS

RUNTIME_ENV_JSON="$("$PYTHON" "$RL_SCRIPTS_DIR/preflight.py" runtime-env \
    "PYTHONPATH=$MEGATRON_DIR:$SLIME_DIR:$REPO_DIR" \
    "CUDA_DEVICE_MAX_CONNECTIONS=1" \
    "NCCL_NVLS_ENABLE=$NCCL_NVLS_ENABLE")"

CMD=(
    ray job submit --address="http://$MASTER_ADDR:$RAY_DASHBOARD_PORT"
    --runtime-env-json="$RUNTIME_ENV_JSON"
    -- "$TRAIN_PYTHON" "$SLIME_DIR/train_async.py"
    --actor-num-nodes "$NUM_NODES"
    --actor-num-gpus-per-node "$NUM_GPUS"
    "${MODEL_ARGS[@]}"
    "${CKPT_ARGS[@]}"
    "${SFT_ARGS[@]}"
    "${OPTIMIZER_ARGS[@]}"
    "${WANDB_ARGS[@]}"
    "${PERF_ARGS[@]}"
    "${MISC_ARGS[@]}"
    "${EXTRA_ARGS[@]}"
)

if ! is_dry_run; then
    export PYTHONUNBUFFERED=1
    ray_start_if_needed "$MASTER_ADDR:$RAY_PORT" "$NUM_GPUS" "$RAY_DASHBOARD_PORT"
fi
run_final "${CMD[@]}"
