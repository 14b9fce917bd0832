"""Adapters that plug the framework-neutral rollout into RL frameworks (slime today)."""
