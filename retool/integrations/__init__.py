"""Thin adapters that plug our sandbox, formats, rollout and reward into RL frameworks: slime, verl,
OpenRLHF, rLLM, TRL, SkyRL, and plain OpenAI-style tool calling (`openai_tools`). Each imports its
framework only in its own module; the core never imports a framework."""
