"""Shared fixtures of the test suite."""

from __future__ import annotations

import pytest


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """pytester whose inner session has its own rootdir: without an ini file there, pytest
    would take the first directory above with one (or a setup.py, such as a stray
    /tmp/setup.py), and the paths the plugin prints would be relative to that."""
    pytester.makeini("[pytest]\n")
    return pytester
