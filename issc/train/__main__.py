"""``python -m issc.train NAME ...``: run one training command (``--help`` after NAME for its options).

Each command is a module of this package with a ``main(argv)``.
"""

from __future__ import annotations

import importlib
import sys

#: Command name -> module of ``issc.train`` with its ``main(argv) -> int``.
COMMANDS = {
    "reader": "issc.train.reader",
    "verifier": "issc.train.verifier.cli",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``argv[0]`` to its command."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m issc.train {{{','.join(COMMANDS)}}} [--help]", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return int(importlib.import_module(COMMANDS[argv[0]]).main(argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
