"""The Examples sections of the core modules run as doctests (STYLE.md item 14)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import stratoseg

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(stratoseg.__path__, "stratoseg.")
    if not m.name.startswith("stratoseg.widgets")  # Qt: exercised by the GUI tests instead
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
