"""The plugin tests run an inner pytest session (pytester) on the gate's own tests, with the
synthetic measurements of ``test_plugin.INNER_CONFTEST``."""

from __future__ import annotations

import pytest

from tests.plugin.test_plugin import INNER_CONFTEST, INNER_TEST


@pytest.fixture()
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the fake matrix and the gate's two tests."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_gate=INNER_TEST)
    return pytester
