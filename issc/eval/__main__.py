"""``python -m issc.eval``: run the command line (:mod:`issc.eval.cli`)."""

from __future__ import annotations

import sys

from issc.eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
