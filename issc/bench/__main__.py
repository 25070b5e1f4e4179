"""Dispatch ``python -m issc.bench <command>``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = {
    "live": "issc.bench.live",
    "compare": "issc.bench.compare",
    "scale": "issc.bench.scale",
    "idle": "issc.bench.idle",
    "history": "issc.bench.history",
    "passes": "issc.bench.passes",
    "search": "issc.bench.search",
    "verifier": "issc.bench.verifier",
    "mjpeg": "issc.bench.mjpeg",
    "viewers": "issc.bench.viewers",
    "soak": "issc.bench.soak",
    "cluster": "issc.bench.cluster",
    "analytics": "issc.bench.analytics",
    "reader": "issc.bench.reader",
    "clips": "issc.bench.clips",
}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m issc.bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0]))
    args = parser.parse_args(argv)
    return modules[args.command].main(args)


if __name__ == "__main__":
    sys.exit(main())
