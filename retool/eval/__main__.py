"""`python -m retool.eval` (the same as `python -m retool eval`)."""

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
