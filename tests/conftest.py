"""Shared helpers. Sandboxes are module-scoped (a start costs ~0.5 s); tests and fixtures in a module
share one event loop (asyncio_default_*_loop_scope = "module" in pyproject)."""

from __future__ import annotations

import functools
import os
import shutil

import pytest


@functools.lru_cache(maxsize=1)
def nsjail_unavailable_reason() -> str | None:
    """None when nsjail can isolate here; else why not (tests that need it skip with this)."""
    from sandbox import SandboxConfig
    from sandbox.isolation import select_backend

    try:
        choice = select_backend(SandboxConfig(isolation="auto", workers=1))
    except Exception as exc:  # noqa: BLE001 - reported as the skip reason
        return f"backend selection failed: {exc}"
    if choice.backend.name != "nsjail":
        return choice.reason
    return None


def require_nsjail() -> None:
    reason = nsjail_unavailable_reason()
    if reason:
        pytest.skip(f"nsjail isolation unavailable here: {reason}")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The tiny Qwen2 model and its tokenizer (retool.testing.tiny_model), built once per session."""
    from retool.testing.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.getbasetemp() / "retool_tiny_model")


@pytest.fixture(scope="session")
def tokenizer(tiny_model):
    """The tiny model's tokenizer, loaded once (the engines load the same files)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model))


@pytest.fixture(scope="session")
def prompt(tokenizer):
    """One chat-rendered question as token ids, the prompt the engine tests generate from."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": "What is 6 * 7?"}], tokenize=False,
                                         add_generation_prompt=True)
    return tokenizer.encode(text, add_special_tokens=False)


@pytest.fixture
def tmp_cwd(tmp_path):
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def python3() -> str:
    return shutil.which("python3") or "python3"
