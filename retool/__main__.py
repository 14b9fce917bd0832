"""`python -m retool <command>`.

Commands:
  eval     concurrent rollouts with the code interpreter over {prompt, label} rows, scored by the reward
           (`python -m retool eval --help`)

vLLM starts its engine core with the `spawn` start method, which re-imports the main module in the
child: everything runs under the `__main__` guard below.
"""

from __future__ import annotations

import sys

USAGE = """usage: python -m retool <command> [options]

commands:
  eval    batch rollouts with the code interpreter and the reward; a results JSONL and a summary
          (python -m retool eval --help). With no options: the embedded SmolLM2-135M demo model on
          the bundled problems.
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "eval":
        from .eval import main as eval_main

        return eval_main(rest)
    print(f"unknown command {command!r}\n\n{USAGE}", end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
