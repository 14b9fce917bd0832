"""``python -m sft``: prepare (ReTool-SFT to trainer formats), verify (re-run every code cell in the
sandbox), rl-data (DAPO-Math / AIME to slime JSONL and verl parquet).

Each subcommand lives in its own module with two functions, ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them up, importing a module when its command runs so
``--help`` stays instant and one command's dependencies never load for another.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

__all__ = ["main", "COMMANDS"]

# name -> (module, one-line help)
COMMANDS = {
    "prepare": ("sft.prepare", "convert ReTool-SFT traces to slime messages, OpenAI tool calls or token ids"),
    "verify": ("sft.verify", "re-run every code cell in the sandbox and compare with the recorded output"),
    "rl-data": ("sft.rl_data", "convert DAPO-Math / AIME rows to slime JSONL and verl parquet"),
    "check": ("sft.schema", "check that a data file has the layout a trainer reads (used by rl_scripts --dry-run)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sft", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if command in (None, name):  # only the command that runs imports its module
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except (FileNotFoundError, ValueError) as exc:  # bad paths and options: one clear line, exit 2
        print(f"python -m sft {args.command}: error: {exc}", file=sys.stderr)
        return 2
