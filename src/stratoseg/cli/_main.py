"""Argument parsing, dispatch and the error contract of the ``stratoseg`` command.

Bad input prints ``error: <what and why>`` on stderr and exits with code 2, without a traceback
(``--debug`` shows it). Each command lives in its own module with ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from stratoseg import __version__
from stratoseg._errors import StratosegError
from stratoseg._malloc import tune_malloc
from stratoseg._progress import Cancelled
from stratoseg.cli import (
    _commands,
    _enhance,
    _evaluate,
    _models,
    _postprocess,
    _segment,
    _synth,
    _train,
)

__all__ = ["build_parser", "main"]

#: Exceptions that mean "the input or the environment is wrong": exit code 2.
USER_ERRORS = (ValueError, TypeError, OSError, StratosegError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``stratoseg`` with every command."""
    parser = argparse.ArgumentParser(
        prog="stratoseg",
        description="Block-wise segmentation of tomograms and microscopy stacks larger than "
        "memory. Each command has its own --help.",
    )
    parser.add_argument("--version", action="version", version=f"stratoseg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (_commands, _synth, _enhance, _segment, _postprocess, _train, _evaluate, _models):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 success, 2 bad input, 1 failure)."""
    tune_malloc()  # resident memory follows the blocks in flight, not their history (_malloc)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    # `kill` and job schedulers send SIGTERM: unwind like Ctrl-C, so temporary outputs go away
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.func(args) or 0)
    except Cancelled:
        print("error: cancelled; nothing was left behind", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("error: interrupted; nothing was left behind", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        if args.debug:
            raise
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"error: unexpected failure ({type(exc).__name__}: {exc}); rerun with --debug "
            "for the traceback and report it",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _message(exc: BaseException) -> str:
    """One line: OSError's ``[Errno 2] No such file or directory: 'x'`` becomes readable."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror.lower()}: {exc.filename}"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
