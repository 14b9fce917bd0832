"""How a warm worker is confined: nsjail where it can run, a process backend elsewhere.

`select_backend` makes the choice and records why, so `python -m sandbox check` can say it.
"""

from .base import Backend, WorkerSpec
from .choose import BackendChoice, select_backend

__all__ = ["Backend", "BackendChoice", "WorkerSpec", "select_backend"]
