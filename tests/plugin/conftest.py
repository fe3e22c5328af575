"""The plugin tests run an inner pytest session (pytester) on the gate's own tests, with the
synthetic measurements of ``test_plugin.INNER_CONFTEST``."""

from __future__ import annotations

import pytest

# pytester's in-process runs drop from sys.modules what an inner session imported first, and
# torch's compile stack registers its cache artifact types once per process: imported again by a
# later test of the same worker, it fails ("Artifact of type=autotune already registered"). So
# it is imported here, before any inner session.
import torch._dynamo.package
import torch._dynamo.pgo
import torch._functorch._aot_autograd.autograd_cache
import torch._inductor.codecache
import torch._inductor.runtime.autotune_cache  # noqa: F401

from tests.plugin.test_plugin import INNER_CONFTEST, INNER_TEST


@pytest.fixture()
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the fake matrix and the gate's two tests."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_gate=INNER_TEST)
    return pytester
