"""Inference engines behind one small protocol (see base.py)."""

from .base import Engine, EngineError, FinishReason, Generation, SamplingConfig

__all__ = ["Engine", "EngineError", "FinishReason", "Generation", "SamplingConfig"]
