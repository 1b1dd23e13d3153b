"""Setup for the heads tests.

This folder is named like the package it tests. Under bare `pytest` (rather
than `python -m pytest`) the repository root is not on sys.path, and
`import heads` would find `tests/` (put there for tests/conftest.py) and
import this folder as an empty namespace package. Putting the root first
makes `import heads` the real package either way.
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "extended: extended_metrics=True keys (names not fixed yet; see "
                   "test_extended.KEYS). Deselect with -m 'not extended'.")
