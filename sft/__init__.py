"""SFT and RL data pipelines: ``python -m sft prepare | verify | rl-data | check``.

- `sft.retool_format`: ReTool-SFT traces parsed into typed cells and rendered in the rollout's bytes.
- `sft.prepare`: traces to slime messages, OpenAI tool-call messages, or token ids with loss masks.
- `sft.verify`: every code cell re-run in the sandbox and compared with the recorded output.
- `sft.rl_data`: DAPO-Math / AIME / slime rows to slime JSONL and verl parquet.
- `sft.schema`: the layout checks the rl_scripts' ``--dry-run`` runs on their data.
- `sft.io`: reading and writing tables, and the per-row problem report every command shares.
"""
