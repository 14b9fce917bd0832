# shellcheck shell=bash
# Shared plumbing for the rl_scripts: logging, checks that record failures instead of stopping at the
# first one, --dry-run, printing the final command, and ray started (and stopped) only if we started it.
#
# Sourced by the scripts after `set -euo pipefail`. Conventions:
#   - stdout carries only the final command (one line, quoted with printf %q), so
#     `cmd=$(bash script --dry-run)` captures exactly what a real run executes; logs go to stderr.
#   - every check_* / require_* function returns 0 and counts failures; finish_checks exits 1 with
#     the count, so one dry-run reports every problem at once.
#   - nothing here kills a process it did not start: ray is stopped only when this script started it.

RL_SCRIPTS_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="${REPO_DIR:-$(cd -- "$RL_SCRIPTS_DIR/.." && pwd)}"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$REPO_DIR/.venv/bin/python" ]]; then
        PYTHON="$REPO_DIR/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi
DRY_RUN="${DRY_RUN:-0}"
SKIP_SANDBOX_CHECK="${SKIP_SANDBOX_CHECK:-0}"
SCRIPT_NAME="${SCRIPT_NAME:-$(basename -- "$0" .sh)}"
EXTRA_ARGS=()
CHECK_FAILURES=0

log() { printf '[%s] %s\n' "$SCRIPT_NAME" "$*" >&2; }
ok() { log "ok: $*"; }
skipped() { log "skipped: $*"; }
warn() { log "warning: $*"; }
fail() {
    log "FAILED: $*"
    CHECK_FAILURES=$((CHECK_FAILURES + 1))
}
die() {
    log "error: $*"
    exit 1
}

is_true() {
    case "${1,,}" in
        1 | true | yes | on) return 0 ;;
        *) return 1 ;;
    esac
}

is_dry_run() { is_true "$DRY_RUN"; }

# The comment block at the top of the calling script, minus the shebang and the leading "# ".
usage() {
    sed -n '2,/^[^#]/{/^#/{s/^# \{0,1\}//;p}}' "$0"
}

# --dry-run and --help; anything else is passed through to the trainer (Hydra overrides for verl,
# extra flags for slime), like the upstream example scripts' "$@".
parse_args() {
    while (($#)); do
        case "$1" in
            --dry-run) DRY_RUN=1 ;;
            -h | --help)
                usage
                exit 0
                ;;
            --)
                shift
                EXTRA_ARGS+=("$@")
                break
                ;;
            *) EXTRA_ARGS+=("$1") ;;
        esac
        shift
    done
}

# require_file VAR HINT: the path in $VAR must be a file. HINT says how to get one.
require_file() {
    local var="$1" hint="${2:-}" path="${!1:-}"
    if [[ -z "$path" ]]; then
        fail "$var is empty: set $var${hint:+ ($hint)}"
    elif [[ -f "$path" ]]; then
        ok "$var=$path"
        return 0
    else
        fail "$var=$path: file not found; set $var${hint:+ ($hint)}"
    fi
    return 0
}

# require_dir VAR HINT [real-run]: the path in $VAR must be a directory. With "real-run" (what only a
# GPU machine has, or what an earlier stage writes: slime's checkout, the SFT checkpoint), a dry-run
# reports it as skipped.
require_dir() {
    local var="$1" hint="${2:-}" kind="${3:-input}" path="${!1:-}"
    if [[ -n "$path" && -d "$path" ]]; then
        ok "$var=$path"
    elif [[ "$kind" == real-run ]] && is_dry_run; then
        skipped "$var=${path:-<empty>} not found${hint:+ ($hint)}; a real run requires it"
    else
        fail "$var=${path:-<empty>}: directory not found; set $var${hint:+ ($hint)}"
    fi
    return 0
}

# require_hf_checkpoint VAR HINT [real-run]: a Hugging Face checkpoint directory. A dry-run needs the
# directory (a wrong path is caught early) unless it is "real-run" (written by an earlier stage); a
# real run also needs its config.json.
require_hf_checkpoint() {
    local var="$1" hint="${2:-}" kind="${3:-input}" path="${!1:-}"
    require_dir "$var" "$hint" "$kind"
    if ! is_dry_run && [[ -n "$path" && -d "$path" && ! -f "$path/config.json" ]]; then
        fail "$var=$path has no config.json; set $var to a Hugging Face checkpoint"
    fi
    return 0
}

# check_data VAR KIND HINT [--strict]: $VAR is a file with layout KIND (python -m sft check --kind
# KIND); with --strict, the checker's warnings fail too (they describe a crash of this trainer).
check_data() {
    local var="$1" kind="$2" hint="${3:-}" strict="${4:-}" path="${!1:-}"
    if [[ -z "$path" || ! -f "$path" ]]; then
        require_file "$var" "$hint"
        return 0
    fi
    local out args=(--kind "$kind")
    if [[ "$strict" == --strict ]]; then
        args+=(--strict)
    fi
    if out="$(PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m sft check "${args[@]}" "$path" 2>&1)"; then
        ok "$var=$path has the $kind layout"
        printf '%s\n' "$out" | grep -i 'warning' >&2 || true
    else
        printf '%s\n' "$out" >&2
        fail "$var=$path fails the $kind layout check${strict:+ (strict: warnings count)} (above);" \
            "regenerate it${hint:+ ($hint)} or set $var"
    fi
    return 0
}

# check_python LABEL CODE: CODE runs in $PYTHON with the repo on PYTHONPATH.
check_python() {
    local label="$1" code="$2" out
    if out="$(PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c "$code" 2>&1)"; then
        ok "$label"
    else
        printf '%s\n' "$out" | tail -n 5 >&2
        fail "$label (with PYTHON=$PYTHON; set PYTHON to the project's interpreter)"
    fi
    return 0
}

# check_framework LABEL PYTHON_BIN MODULE VAR [PYTHONPATH]: the trainer's Python imports MODULE. A
# dry-run (on a machine without GPUs or the framework) reports it as skipped; a real run fails.
check_framework() {
    local label="$1" py="$2" module="$3" var="$4" path="${5:-${PYTHONPATH:-}}"
    if ! command -v "$py" >/dev/null 2>&1; then
        if is_dry_run; then
            skipped "$label: $var=$py not found (a real run fails here)"
        else
            fail "$label: $var=$py not found; set $var to the Python that has $label installed"
        fi
    elif PYTHONPATH="$path" "$py" -c "import $module" >/dev/null 2>&1; then
        ok "$label is installed for $var=$py"
    elif is_dry_run; then
        skipped "$label: not installed for $var=$py (a real run fails here)"
    else
        fail "$label is not installed for $var=$py; set $var to the Python that has it"
    fi
    return 0
}

# check_trainer_modules LABEL PYTHON_BIN VAR MODULE...: when TRAIN_PYTHON has the framework, it must
# also import every MODULE the run uses (preflight.py verl-imports): a bare `import verl` passes on an
# install that lacks the agent loop's dependencies or on a verl without a trainer module we name.
check_trainer_modules() {
    local label="$1" py="$2" var="$3" out
    shift 3
    if ! command -v "$py" >/dev/null 2>&1 || ! PYTHONPATH="$REPO_DIR" "$py" -c "import ${1%%.*}" >/dev/null 2>&1; then
        return 0  # no framework at all: check_framework reports it (skipped in a dry-run, failed in a real run)
    fi
    if out="$(PYTHONPATH="$REPO_DIR" "$py" "$RL_SCRIPTS_DIR/preflight.py" verl-imports "$@" 2>&1)"; then
        ok "$label: $var=$py imports $*"
    else
        printf '%s\n' "$out" | tail -n 5 >&2
        fail "$label: $var=$py cannot import what the run uses (above)"
    fi
    return 0
}

# check_trainer_imports_retool PYTHON_BIN PYTHONPATH VAR CODE: in a real run the trainer's Python
# must import our hooks too (they run inside the framework's workers).
check_trainer_imports_retool() {
    local py="$1" path="$2" var="$3" code="$4" out
    if is_dry_run; then
        return 0
    fi
    if out="$(PYTHONPATH="$path" "$py" -c "$code" 2>&1)"; then
        ok "$var=$py imports retool's hooks"
    else
        printf '%s\n' "$out" | tail -n 5 >&2
        fail "$var=$py cannot import retool's hooks; pip install -e $REPO_DIR into that environment"
    fi
    return 0
}

# check_preflight LABEL ARGS...: rl_scripts/preflight.py ARGS (YAML configs, the reward function).
# Its stdout goes to stderr too: what it imports may print (verl's BaseTool.__init__ prints the tool
# schema), and stdout must stay exactly the one-line command.
check_preflight() {
    local label="$1"
    shift
    if PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$RL_SCRIPTS_DIR/preflight.py" "$@" >&2; then
        ok "$label"
    else
        fail "$label"
    fi
    return 0
}

# check_sandbox: python -m sandbox check (isolation in effect and a self-test). SKIP_SANDBOX_CHECK=1
# skips it (the tests use that for cases that fail earlier anyway).
check_sandbox() {
    if is_true "$SKIP_SANDBOX_CHECK"; then
        skipped "python -m sandbox check (SKIP_SANDBOX_CHECK=$SKIP_SANDBOX_CHECK)"
        return 0
    fi
    local out
    if out="$(PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m sandbox check 2>&1)"; then
        ok "python -m sandbox check: $(printf '%s\n' "$out" | head -n 1)"
        printf '%s\n' "$out" | grep -i 'warning' >&2 || true
    else
        printf '%s\n' "$out" >&2
        fail "python -m sandbox check failed (above): the tool cannot run code safely here"
    fi
    return 0
}

# latest_hf_export DIR: the newest Hugging Face export a verl SFT run wrote under DIR
# (global_step_N/huggingface from verl.trainer.sft_trainer, global_step_N from fsdp_sft_trainer);
# prints nothing when there is none.
latest_hf_export() {
    local dir="$1" candidate best="" step n max=-1
    for candidate in "$dir"/global_step_*; do
        step="${candidate##*/global_step_}"
        [[ "$step" =~ ^[0-9]+$ ]] || continue
        n=$((10#$step))
        if ((n > max)); then
            if [[ -f "$candidate/huggingface/config.json" ]]; then
                max=$n
                best="$candidate/huggingface"
            elif [[ -f "$candidate/config.json" ]]; then
                max=$n
                best="$candidate"
            fi
        fi
    done
    printf '%s' "$best"
}

# check_slime_stack with-retool|without-retool: what a slime run needs besides our code (TRAIN_PYTHON
# with slime and Megatron, the checkouts, ray, slime's model flags; with-retool: TRAIN_PYTHON also
# imports our hooks, which run inside slime's rollout workers). Sets MODEL_ARGS from MODEL_ARGS_FILE.
# Skipped in a dry-run where absent; required in a real run.
MODEL_ARGS=()
check_slime_stack() {
    local with_retool="${1:-}"
    check_framework slime "$TRAIN_PYTHON" slime TRAIN_PYTHON "$SLIME_DIR"
    check_framework "Megatron-LM" "$TRAIN_PYTHON" megatron.core TRAIN_PYTHON "$MEGATRON_DIR"
    require_dir SLIME_DIR "a slime checkout" real-run
    require_dir MEGATRON_DIR "a Megatron-LM checkout" real-run
    if command -v ray >/dev/null 2>&1; then
        ok "ray: $(command -v ray)"
    elif is_dry_run; then
        skipped "ray: not installed here (a real run fails here)"
    else
        fail "ray is not on PATH; activate the slime environment"
    fi
    if [[ -f "$MODEL_ARGS_FILE" ]]; then
        # shellcheck source=/dev/null
        source "$MODEL_ARGS_FILE"
        ok "model flags from MODEL_ARGS_FILE=$MODEL_ARGS_FILE (${#MODEL_ARGS[@]} args)"
    elif is_dry_run; then
        skipped "MODEL_ARGS_FILE=$MODEL_ARGS_FILE not found: the printed command lacks slime's model flags"
    else
        fail "MODEL_ARGS_FILE=$MODEL_ARGS_FILE not found; set SLIME_DIR or MODEL_ARGS_FILE"
    fi
    if [[ "$with_retool" == with-retool ]]; then
        check_trainer_imports_retool "$TRAIN_PYTHON" "$MEGATRON_DIR:$SLIME_DIR:$REPO_DIR" TRAIN_PYTHON \
            'import retool; retool.generate; retool.reward_func'
    fi
    return 0
}

# 1 when nvidia-smi shows NVLink between GPUs (slime's examples set NCCL_NVLS_ENABLE from it), else 0.
nvlink_available() {
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi topo -m 2>/dev/null | grep -q 'NV[0-9]'; then
        echo 1
    else
        echo 0
    fi
}

finish_checks() {
    if ((CHECK_FAILURES > 0)); then
        die "$CHECK_FAILURES check(s) failed; nothing was started"
    fi
    ok "all checks passed"
}

# print_command ARGS...: one line on stdout, each argument quoted for bash (printf %q).
print_command() {
    local line
    line="$(printf '%q ' "$@")"
    printf '%s\n' "${line% }"
}

# run_final ARGS...: --dry-run prints the command and exits 0; a real run logs it and runs it.
run_final() {
    if is_dry_run; then
        log "dry-run: the command a real run executes (stdout):"
        print_command "$@"
        exit 0
    fi
    log "running: $(print_command "$@")"
    "$@"
}

# ray for slime's `ray job submit`: start a head node only when none is reachable, and stop it on
# exit only if this script started it. `ray stop` acts on this node's ray processes; since we only
# start a head when no cluster was running here, what it stops is ours.
RAY_STARTED_BY_US=0
ray_stop_if_started() {
    if ((RAY_STARTED_BY_US)); then
        log "stopping the ray head this script started"
        ray stop || warn "ray stop failed"
        RAY_STARTED_BY_US=0
    fi
}

ray_start_if_needed() {
    local address="$1" num_gpus="$2" dashboard_port="$3"
    if ray status --address "$address" >/dev/null 2>&1; then
        log "using the ray cluster already running at $address (it is left running)"
        return 0
    fi
    log "starting a ray head at $address with $num_gpus GPU(s)"
    trap ray_stop_if_started EXIT
    trap 'exit 130' INT TERM
    RAY_STARTED_BY_US=1
    ray start --head --node-ip-address "${address%:*}" --port "${address##*:}" --num-gpus "$num_gpus" \
        --disable-usage-stats --dashboard-host=0.0.0.0 --dashboard-port="$dashboard_port"
}

# ---------------------------------------------------------------------------------------------
# slime flag groups shared by the SFT and RL scripts (slime's examples/retool/*.sh); each sets
# one array from the variables the calling script defined.
# ---------------------------------------------------------------------------------------------
slime_perf_args() {
    # shellcheck disable=SC2034  # the array is for the calling script
    PERF_ARGS=(
        --tensor-model-parallel-size "$TP_SIZE"
        --sequence-parallel
        --pipeline-model-parallel-size "$PP_SIZE"
        --context-parallel-size "$CP_SIZE"
        --expert-model-parallel-size 1
        --expert-tensor-parallel-size 1
        --recompute-granularity full
        --recompute-method uniform
        --recompute-num-layers 1
        --use-dynamic-batch-size
        --max-tokens-per-gpu "$MAX_TOKENS_PER_GPU"
    )
}

slime_wandb_args() {
    # shellcheck disable=SC2034  # the array is for the calling script
    WANDB_ARGS=()
    if is_true "$USE_WANDB"; then
        # shellcheck disable=SC2034
        WANDB_ARGS=(--use-wandb --wandb-project "$WANDB_PROJECT" --wandb-group "$WANDB_GROUP")
    fi
}

slime_misc_args() {
    # shellcheck disable=SC2034  # the array is for the calling script
    # Megatron's default dropout is 0.1; fp32 reductions and softmax as in slime's examples
    MISC_ARGS=(
        --attention-dropout 0.0
        --hidden-dropout 0.0
        --accumulate-allreduce-grads-in-fp32
        --attention-softmax-in-fp32
        --attention-backend "$ATTENTION_BACKEND"
    )
}
