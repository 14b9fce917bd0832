"""SFT and RL data pipelines (issue 5): not implemented yet."""
