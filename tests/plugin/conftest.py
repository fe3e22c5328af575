"""The plugin tests run an inner pytest session (pytester) on the gate's own tests, with the
synthetic measurements of ``test_plugin.INNER_CONFTEST``."""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Callable

import _pytest.pytester
import pytest

from tests.plugin.test_plugin import INNER_CONFTEST, INNER_TEST

# Installed libraries imported by an inner session outlive it. pytester restores sys.modules
# after each in-process run, dropping what the run imported first, and some libraries register
# process-wide state once: imported again by a later test of the same worker they fail (torch's
# compile stack: "Artifact of type=autotune already registered"; datasets: "Array2DExtensionType
# already defined" in pyarrow). Its snapshot takes a `preserve` rule for such modules, but no
# option to set one: the class is extended here. Modules of the test's own tree (an inner
# conftest.py, the example technique) are still dropped, as pytester intends.
INSTALLED = tuple({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})


def _installed(module: object) -> bool:
    return str(getattr(module, "__file__", None) or "").startswith(INSTALLED)


class _KeepingInstalled(_pytest.pytester.SysModulesSnapshot):
    """pytester's snapshot of sys.modules, which also keeps installed libraries on restore."""

    def __init__(self, preserve: Callable[[str], bool] | None = None) -> None:
        super().__init__(
            lambda name: _installed(sys.modules.get(name)) or bool(preserve and preserve(name))
        )


# mypy forbids assigning to a class name; replacing pytester's class is the point here.
_pytest.pytester.SysModulesSnapshot = _KeepingInstalled  # type: ignore[misc]


@pytest.fixture()
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the fake matrix and the gate's two tests."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_gate=INNER_TEST)
    return pytester
