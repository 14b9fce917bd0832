#!/usr/bin/env bash
# ReTool stage 1 with verl: multi-turn SFT of Qwen3-4B on ReTool-SFT converted to OpenAI tool calls
# (assistant tool_calls to code_interpreter, tool messages with the outputs, a final answer).
#
# Usage: rl_scripts/verl_retool_qwen3_4b_sft.sh [--dry-run] [--help] [EXTRA HYDRA OVERRIDES...]
#
# --dry-run (or DRY_RUN=1) checks everything that can be checked without GPUs -- the train/val files
# and their layout (python -m sft check --kind openai-sft --strict: a 'tools' column stored as a JSON
# string fails, since verl passes it unparsed to apply_chat_template), the model directory, that
# retool.integrations.verl imports, that `python -m sandbox check` passes -- reports verl as skipped
# when it is not installed here, prints the final command on stdout and exits 0 (non-zero, naming
# the variable to set, when a check fails). Where TRAIN_PYTHON has verl, the check imports the
# trainer module the command runs (verl.trainer.sft_trainer). A real run requires verl in
# TRAIN_PYTHON and runs torchrun (no ray, nothing to stop afterwards).
#
# The trainer is verl.trainer.sft_trainer (engine-based; config sft_trainer_engine.yaml:
# data.messages_key / data.tools_key, model.path, engine=fsdp), matched against verl 0.9.1, whose
# Hydra config composes with these overrides (tests/frameworks/test_verl_real.py). verl removed the
# older verl.trainer.fsdp_sft_trainer (its recipe/retool/run_qwen2_7b_sft.sh used it), so it is not offered.
#
# Make the data first:
#   python -m sft prepare --input ReTool-SFT.parquet --format openai --output "$SFT_DATA"
#
# Environment (default):
#   PYTHON            project interpreter for the checks (.venv/bin/python if present, else python3)
#   TRAIN_PYTHON      interpreter of the verl environment (python3)
#   MODEL_DIR         Hugging Face checkpoint (/root/models/Qwen3-4B-Instruct-2507)
#   SAVE_DIR          checkpoints (/root/checkpoints/qwen3-4b-retool-sft-verl); sft_trainer also writes
#                     a Hugging Face export (global_step_N/huggingface), which the RL script starts from
#   DATA_DIR          default folder of the data files ($REPO_DIR/data)
#   SFT_DATA          OpenAI-layout SFT parquet ($DATA_DIR/retool_sft.openai.parquet)
#   VAL_DATA          validation parquet ($SFT_DATA, as verl's recipe does)
#   NUM_NODES (1)  NUM_GPUS per node (8)  NODE_RANK (0)  MASTER_ADDR (127.0.0.1)  MASTER_PORT (29500)
#   SP_SIZE (4: Ulysses sequence parallel)  MAX_LENGTH (16384)  MAX_TOKEN_LEN_PER_GPU (16384)
#   TRAIN_BATCH_SIZE (32)  MICRO_BATCH_SIZE_PER_GPU (4)  TRUNCATION (error)  LR (1e-5)
#   TOTAL_EPOCHS (6)  SAVE_FREQ (62)  PROJECT_NAME (retool)  EXPERIMENT_NAME (qwen3-4b-retool-sft-verl)
#   LOGGER (['console']; e.g. ['console','wandb'])
#   SKIP_SANDBOX_CHECK (0)
set -euo pipefail

# shellcheck source=rl_scripts/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
parse_args "$@"

TRAIN_PYTHON="${TRAIN_PYTHON:-python3}"
MODEL_DIR="${MODEL_DIR:-/root/models/Qwen3-4B-Instruct-2507}"
SAVE_DIR="${SAVE_DIR:-/root/checkpoints/qwen3-4b-retool-sft-verl}"
DATA_DIR="${DATA_DIR:-$REPO_DIR/data}"
SFT_DATA="${SFT_DATA:-$DATA_DIR/retool_sft.openai.parquet}"
VAL_DATA="${VAL_DATA:-$SFT_DATA}"
NUM_NODES="${NUM_NODES:-1}"
NUM_GPUS="${NUM_GPUS:-8}"
NODE_RANK="${NODE_RANK:-0}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-29500}"
SP_SIZE="${SP_SIZE:-4}"
MAX_LENGTH="${MAX_LENGTH:-16384}"
MAX_TOKEN_LEN_PER_GPU="${MAX_TOKEN_LEN_PER_GPU:-16384}"
TRAIN_BATCH_SIZE="${TRAIN_BATCH_SIZE:-32}"
MICRO_BATCH_SIZE_PER_GPU="${MICRO_BATCH_SIZE_PER_GPU:-4}"
TRUNCATION="${TRUNCATION:-error}"
LR="${LR:-1e-5}"
TOTAL_EPOCHS="${TOTAL_EPOCHS:-6}"
SAVE_FREQ="${SAVE_FREQ:-62}"
PROJECT_NAME="${PROJECT_NAME:-retool}"
EXPERIMENT_NAME="${EXPERIMENT_NAME:-qwen3-4b-retool-sft-verl}"
LOGGER="${LOGGER:-['console']}"

# ------------------------------------------------------------------ checks
log "checks (dry-run: $(is_dry_run && echo yes || echo no))"
if [[ -n "${VERL_SFT_TRAINER:-}" && "$VERL_SFT_TRAINER" != sft_trainer ]]; then
    fail "VERL_SFT_TRAINER=$VERL_SFT_TRAINER: verl removed verl.trainer.fsdp_sft_trainer; only sft_trainer" \
        "(verl.trainer.sft_trainer) is supported: unset VERL_SFT_TRAINER"
fi
# --strict: a JSON-string 'tools' column passes the layout with a warning, but verl's
# MultiTurnSFTDataset hands it unparsed to apply_chat_template, which raises on a string.
check_data SFT_DATA openai-sft "python -m sft prepare --format openai --output PATH.parquet" --strict
if [[ "$VAL_DATA" != "$SFT_DATA" ]]; then
    check_data VAL_DATA openai-sft "python -m sft prepare --format openai --output PATH.parquet" --strict
fi
require_hf_checkpoint MODEL_DIR "a Hugging Face checkpoint of Qwen3-4B"
check_python "retool.integrations.verl imports (the tool and compute_score the RL stage uses)" \
    'import retool.integrations.verl as v; v.CodeInterpreterVerlTool; v.compute_score'
check_sandbox
check_framework verl "$TRAIN_PYTHON" verl TRAIN_PYTHON
check_trainer_modules "verl's SFT trainer" "$TRAIN_PYTHON" TRAIN_PYTHON verl.trainer.sft_trainer
finish_checks

# ------------------------------------------------------------------ command
LAUNCH=("$TRAIN_PYTHON" -m torch.distributed.run --nproc_per_node="$NUM_GPUS")
if ((NUM_NODES > 1)); then
    LAUNCH+=(--nnodes="$NUM_NODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT")
else
    LAUNCH+=(--standalone --nnodes=1)
fi

COMMON=(
    "data.train_files=$SFT_DATA"
    "data.val_files=$VAL_DATA"
    "data.max_length=$MAX_LENGTH"
    "data.train_batch_size=$TRAIN_BATCH_SIZE"
    "data.micro_batch_size_per_gpu=$MICRO_BATCH_SIZE_PER_GPU"
    "data.truncation=$TRUNCATION"
    "optim.lr=$LR"
    "trainer.default_local_dir=$SAVE_DIR"
    "trainer.project_name=$PROJECT_NAME"
    "trainer.experiment_name=$EXPERIMENT_NAME"
    "trainer.logger=$LOGGER"
    "trainer.total_epochs=$TOTAL_EPOCHS"
    "trainer.save_freq=$SAVE_FREQ"
)
TRAINER=(
    -m verl.trainer.sft_trainer
    "${COMMON[@]}"
    data.messages_key=messages
    data.tools_key=tools
    "data.max_token_len_per_gpu=$MAX_TOKEN_LEN_PER_GPU"
    "model.path=$MODEL_DIR"
    model.use_remove_padding=true
    engine=fsdp
    "engine.ulysses_sequence_parallel_size=$SP_SIZE"
    "trainer.nnodes=$NUM_NODES"
    "trainer.n_gpus_per_node=$NUM_GPUS"
    "checkpoint.save_contents=[model,optimizer,extra,hf_model]"
)

CMD=(env "PYTHONPATH=$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "${LAUNCH[@]}" "${TRAINER[@]}" "${EXTRA_ARGS[@]}")
run_final "${CMD[@]}"
