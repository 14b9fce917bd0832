"""verl's ``custom_reward_function.path`` target for the ReTool recipe: ``compute_score``.

verl loads this file by its path (``importlib.util.spec_from_file_location``), outside any package
and, in recent versions, without registering it in ``sys.modules``. Modules that define dataclasses
or pydantic models cannot be loaded that way (both look their module up in ``sys.modules``), so this
file only re-exports the function from the installed package; ``retool`` must be importable by the
trainer's Python (``pip install -e`` the repo, or put it on PYTHONPATH as the scripts do).
"""

from retool.integrations.verl import compute_score

__all__ = ["compute_score"]
