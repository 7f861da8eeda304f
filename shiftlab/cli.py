"""The ``shiftlab`` command: ``shiftlab train``, ``evaluate``, ``sweep``, ``zoo`` and ``app``, each with ``--help``.

Each subcommand lives in the module that does the work: the module adds its
flags to the subcommand's parser (``configure``) and runs the parsed flags
(``run``); this file only lists them. A ``ShiftlabError`` (a mistake the user
can fix) is printed as one line and exits with status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from shiftlab import __version__
from shiftlab.errors import ShiftlabError

#: subcommand -> (module with configure/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("shiftlab.training.train", "train a CIFAR-10 model of the zoo and write its weights and card"),
    "evaluate": ("shiftlab.zoo.evaluate", "measure a model (clean, corruptions, PGD) into its card"),
    "sweep": ("shiftlab.sweep.run", "sweep models × shifts × severities over a dataset into a Parquet store"),
    "zoo": ("shiftlab.zoo.tables", "print the zoo and targets tables built from the cards"),
    "app": ("shiftlab.app.launch", "run the Streamlit app (extra flags go to `streamlit run`)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``shiftlab`` parser with one subparser per command; only ``command``'s module is imported and its
    flags added, since importing every command's module (Streamlit, DuckDB, the training stack) would slow
    every call."""
    parser = argparse.ArgumentParser(
        prog="shiftlab", description="See how an image classifier behaves, and why, when its input distribution shifts.",
        epilog="`shiftlab COMMAND --help` describes each command.")
    parser.add_argument("--version", action="version", version=f"shiftlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == command:
            module = importlib.import_module(module_name)
            sub.description = module.__doc__
            module.configure(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; 2 on a user error (after printing it)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((arg for arg in argv if not arg.startswith("-")), None))
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "app":
        parser.parse_args(argv)  # lets argparse name the unknown flags and exit
    if args.command == "app":
        args.streamlit_args = extra
    try:
        args.run(args)
    except ShiftlabError as exc:
        print(f"shiftlab {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
