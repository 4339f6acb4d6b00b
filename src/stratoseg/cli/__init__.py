"""The ``stratoseg`` command line."""

from stratoseg.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
