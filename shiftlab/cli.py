"""The ``shiftlab`` command: ``shiftlab train``, ``evaluate``, ``sweep``, ``zoo`` and ``app``, each with ``--help``.

Each subcommand lives in the module that does the work: the module adds its
flags to the subcommand's parser (``configure``) and runs the parsed flags
(``run``); this file only lists them. A ``ShiftlabError`` (a mistake the user
can fix) is printed as one line and exits with status 2, not a traceback.
The other ways a command ends early also end in one line: Ctrl-C says what
was kept (the module's ``interrupted``, when it has one) and exits 130; a
folder that cannot be written or a full disk (``OSError``) exits 1, and since
every file is written to a temporary name and renamed, nothing half-written
is left; a closed pipe (``shiftlab zoo | head``) ends quietly with 141.

A model is named one way in every command: ``ARCH/VARIANT`` (``--model
resnet20/augmix``, ``--model pets/baseline``; ``shiftlab sweep --models``
takes several, and glob patterns).
"""

from __future__ import annotations

import argparse
import importlib
import os
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
        prog="shiftlab",
        description="See how an image classifier behaves, and why, when its input distribution shifts.",
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


def model_name(text: str) -> tuple[str, str]:
    """``--model``'s value, ``ARCH/VARIANT``, as (arch, variant); argparse reports any other shape (the names
    themselves are checked by the command, which knows the models)."""
    arch, slash, variant = text.partition("/")
    if not (arch and slash and variant) or "/" in variant:
        raise argparse.ArgumentTypeError(f"a model is ARCH/VARIANT, e.g. resnet20/baseline; got {text!r:.80}")
    return arch, variant


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; on a user error 2, on Ctrl-C 130, on a write that failed 1,
    on a closed pipe 141, each after one line on stderr (none for the pipe)."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = None
    try:
        args = parse(argv, command)
        args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except ShiftlabError as exc:
        return _fail(args, str(exc), 2)
    except KeyboardInterrupt:
        return _fail(args, f"interrupted; {_kept(args)}", 130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the reader left: say nothing more
        return 141
    except OSError as exc:
        message = f"{_os_error(exc)}; nothing half-written was left (files are written whole or not at all)"
        return _fail(args, message, 1)
    return 0


def parse(argv: list[str], command: str | None) -> argparse.Namespace:
    """The parsed flags of ``argv``; the ``app`` command keeps the flags it does not know for ``streamlit run``."""
    parser = build_parser(command)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "app":
        parser.parse_args(argv)  # lets argparse name the unknown flags and exit
    if args.command == "app":
        args.streamlit_args = extra
    return args


def _fail(args: argparse.Namespace | None, message: str, status: int) -> int:
    """Print ``message`` as one line naming the command; return ``status``."""
    command = getattr(args, "command", None)
    print(f"shiftlab{f' {command}' if command else ''}: {' '.join(message.splitlines())}", file=sys.stderr)
    return status


def _kept(args: argparse.Namespace | None) -> str:
    """What an interrupted command leaves: its module's ``interrupted(args)``, or the general rule."""
    module = importlib.import_module(COMMANDS[args.command][0]) if getattr(args, "command", None) else None
    say = getattr(module, "interrupted", None)
    return say(args) if say else "kept what was written before (files are written whole or not at all)"


def _os_error(exc: OSError) -> str:
    """An ``OSError`` in words: what failed and on which file."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


if __name__ == "__main__":
    sys.exit(main())
