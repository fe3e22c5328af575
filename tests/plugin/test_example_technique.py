"""The open registry, proven with a technique from a separate package.

``examples/accel-example-technique`` is loaded through the real entry-point mechanism without
installing anything: a ``*.dist-info`` folder (METADATA and entry_points.txt) on a temporary
``sys.path`` entry is all ``importlib.metadata`` needs. Bad plugins must be clear errors, and
a conftest can add techniques through the ``pytest_accel_register_techniques`` hook.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path

import pytest

from accel.techniques import ENTRY_POINT_GROUP, BuildContext, RegistryError, builtin_registry
from tests.plugin.test_plugin import INNER_CONFTEST, INNER_TEST

pytest_plugins = ["pytester"]

EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "accel-example-technique" / "src"
EXAMPLE = "accel_example_technique"
NAME = "torchscript"
CO = ("--co", "-q", "--accel-device=cpu", "-p", "no:cacheprovider")

# Installs a fake distribution: (name, entry points {name: "module:object"}, modules
# {module name: source}) -> the folder put first on sys.path.
Install = Callable[..., Path]


@pytest.fixture()
def install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Install]:
    """Make distributions visible to ``importlib.metadata`` (it scans ``sys.path`` at each
    call) for this test only: ``sys.path`` is restored and every module imported from these
    folders is forgotten afterwards."""
    roots = [tmp_path, EXAMPLE_SRC]
    before = set(sys.modules)

    def install_(
        dist: str,
        entry_points: Mapping[str, str],
        modules: Mapping[str, str] | None = None,
        version: str = "0.1",
    ) -> Path:
        site = tmp_path / f"site-{dist}"
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[accel.techniques]\n{lines}", encoding="utf-8")
        for module, source in (modules or {}).items():
            (site / f"{module}.py").write_text(source, encoding="utf-8")
        monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
        return site

    yield install_
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if any(Path(file).is_relative_to(root) for root in roots):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture()
def example(install: Install, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example package, "installed" from its source folder with the entry point its
    pyproject.toml declares."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    return install("accel-example-technique", {NAME: f"{EXAMPLE}:torchscript"})


@pytest.fixture()
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_gate=INNER_TEST)
    return pytester


def test_the_example_is_not_a_builtin() -> None:
    assert NAME not in builtin_registry().names()


def test_the_example_declares_the_entry_point_the_tests_install() -> None:
    pyproject = (EXAMPLE_SRC.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points."accel.techniques"]' in pyproject
    assert f'{NAME} = "{EXAMPLE}:torchscript"' in pyproject


def test_an_entry_point_adds_its_technique(example: Path) -> None:
    registry = builtin_registry()
    assert NAME in registry.load_entry_points()
    technique = registry[NAME]
    assert technique.devices == {"cpu"}
    assert technique.contract.min_accuracy_ratio == 0.99
    assert registry.origin(NAME) == (
        f"entry point {NAME!r} ({EXAMPLE}:torchscript) of accel-example-technique"
    )
    assert f"{EXAMPLE}.tracing" not in sys.modules  # listing it imports no torch


def test_the_plugin_collects_entry_point_cells_with_no_edit_to_accel(
    example: Path, inner: pytest.Pytester
) -> None:
    result = inner.runpytest(*CO)
    for test in ("test_contract", "test_baseline"):
        result.stdout.fnmatch_lines([f"*{test}?{NAME}/cpu?*"])
    assert result.ret == pytest.ExitCode.OK
    # and its cells are gated like the built-in ones (synthetic measurements)
    args = (f"--accel-techniques=fp32,{NAME}", "--accel-device=cpu", "-p", "no:cacheprovider")
    inner.runpytest(*args, "--accel-update-baselines").assert_outcomes(passed=4)
    assert (inner.path / "baselines" / "cpu" / f"{NAME}.json").is_file()
    result = inner.runpytest(*args)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"*{NAME}/cpu*pass*"])


TEXTS = (
    "what is the balance of my checking account",
    "transfer fifty dollars to my savings",
    "will it rain tomorrow",
    "set a timer for ten minutes",
    "hi",
    "please move one hundred and twenty dollars from my checking account into the joint "
    "savings account before the end of the day",
)


def test_the_example_predicts_the_reference_labels(
    example: Path, tiny_context: BuildContext
) -> None:
    from accel.techniques.pytorch import build_fp32

    registry = builtin_registry()
    registry.load_entry_points()
    predictor = registry[NAME].builder()(tiny_context)
    reference = build_fp32(tiny_context)
    assert predictor.name == NAME
    for batch in (TEXTS[:1], TEXTS[-1:], TEXTS[:2], TEXTS, TEXTS * 3):  # lengths and sizes
        assert predictor.predict(list(batch)) == reference.predict(list(batch))
    # its size is its artifact's: the frozen TorchScript file in the context's cache
    path = predictor.path
    assert tiny_context.cache_dir is not None and path.is_relative_to(tiny_context.cache_dir)
    assert predictor.size_bytes() == path.stat().st_size
    assert predictor.size_bytes() == pytest.approx(reference.size_bytes(), rel=0.02)
    # a second build reuses the cached file
    assert registry[NAME].builder()(tiny_context).path == path


def test_a_trace_that_does_not_reproduce_the_reference_is_an_error(
    example: Path, tiny_context: BuildContext
) -> None:
    import copy

    import torch
    from accel_example_technique import tracing

    predictor = tracing.build(tiny_context)
    other = copy.deepcopy(tiny_context.reference.model)
    with torch.no_grad():
        other.classifier.bias += 1.0  # same argmax, other logits
    with pytest.raises(tracing.TraceError, match=r"the traced model's logits differ"):
        tracing.check(predictor, other, tracing.PROBES)


# Bad plugins: (entry point target, module source, what the error must say).
NO_CONTRACT = """
from accel.techniques import Technique

no_contract = Technique(
    name="no-contract", description="forgot it", build="m:f", devices=("cpu",),
    contract={"min_speedup": 1.5},
)
"""
BAD_PLUGINS = {
    "import-error": (
        "accel_bad_import:technique",
        "import accel_dependency_that_is_not_installed\n",
        [
            "entry point 'bad' (accel_bad_import:technique) of accel-bad-plugin failed to "
            "import: ModuleNotFoundError: No module named 'accel_dependency_that_is_not_"
            "installed'. Fix that package, or uninstall it (pip uninstall accel-bad-plugin).",
        ],
    ),
    "not-a-technique": (
        "accel_not_a_technique:build",
        "def build(ctx):\n    return None\n",
        [
            "entry point 'bad' (accel_not_a_technique:build) of accel-bad-plugin must name an "
            "accel.techniques.Technique or a list of them (see docs/extending.md), got "
            "<function build",
        ],
    ),
    "clash": (
        "accel_clash:clash",
        "from accel.techniques import Contract, technique\n\n"
        "@technique('ort-int8', 'mine', ('cpu',), Contract())\n"
        "def clash(ctx):\n    raise NotImplementedError\n",
        [
            "technique 'ort-int8' (from entry point 'bad' (accel_clash:clash) of "
            "accel-bad-plugin) clashes with the technique of that name: rename one of them",
        ],
    ),
    "no-contract": (
        "accel_no_contract:no_contract",
        NO_CONTRACT,
        [
            "entry point 'bad' (accel_no_contract:no_contract) of accel-bad-plugin failed to "
            "import: TechniqueError: technique 'no-contract' has no contract (got "
            "{'min_speedup': 1.5}): give contract=accel.techniques.Contract(...)",
        ],
    ),
}


def _install_bad(install: Install, case: str) -> list[str]:
    target, source, expected = BAD_PLUGINS[case]
    install("accel-bad-plugin", {"bad": target}, {target.partition(":")[0]: source})
    return expected


@pytest.mark.parametrize("case", list(BAD_PLUGINS))
def test_a_bad_plugin_is_an_error_naming_it_and_the_fix(install: Install, case: str) -> None:
    expected = _install_bad(install, case)
    with pytest.raises(RegistryError) as caught:
        builtin_registry().load_entry_points()
    for part in expected:
        assert part in str(caught.value)


def assert_stops_cleanly(inner: pytest.Pytester, expected: list[str]) -> None:
    """The gate stops with ``expected`` and no traceback, found while collecting the suite
    (a collection error) or while checking the options (a usage error)."""
    result = inner.runpytest("--co", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    for part in expected:
        assert part in out.replace("\n", "")
    assert "Traceback" not in out and ".py:" not in out
    result = inner.runpytest(*CO)  # --accel-device: options checked in pytest_configure
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert err.startswith("ERROR: ")
    for part in expected:
        assert part in err.replace("\n", "")
    assert "Traceback" not in err and "INTERNALERROR" not in err


@pytest.mark.parametrize("case", list(BAD_PLUGINS))
def test_a_bad_plugin_stops_the_gate_with_its_message_not_a_traceback(
    install: Install, inner: pytest.Pytester, case: str
) -> None:
    assert_stops_cleanly(inner, _install_bad(install, case))


def test_a_run_that_asks_for_no_cell_never_loads_the_plugins(
    install: Install, pytester: pytest.Pytester
) -> None:
    """A project that installs accel but does not run the gate is not broken by a bad
    accel plugin."""
    _install_bad(install, "import-error")
    pytester.makepyfile("def test_plain():\n    pass\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


HOOKED = """

from accel.techniques import Contract, technique


@technique("hooked-int8", "added by a conftest", ("cpu",), Contract(min_speedup=1.1))
def hooked(ctx):
    raise NotImplementedError


def pytest_accel_register_techniques(registry):
    registry.add(hooked, origin="conftest.py")
"""


def test_a_conftest_adds_techniques_through_the_hook(inner: pytest.Pytester) -> None:
    inner.makeconftest(INNER_CONFTEST + HOOKED)
    result = inner.runpytest(*CO)
    result.stdout.fnmatch_lines(["*test_contract?hooked-int8/cpu?*"])
    args = ("--accel-techniques=hooked-int8", "--accel-device=cpu", "-p", "no:cacheprovider")
    inner.runpytest(*args, "--accel-update-baselines").assert_outcomes(passed=2)


def test_the_hook_runs_after_the_entry_points(example: Path, inner: pytest.Pytester) -> None:
    """A conftest sees the built-ins and the plugins' techniques; its clash is reported like
    a plugin's."""
    inner.makeconftest(
        INNER_CONFTEST
        + HOOKED.replace('"hooked-int8"', f'"{NAME}"').replace(
            "def pytest_accel_register_techniques(registry):",
            "def pytest_accel_register_techniques(registry):\n"
            f"    assert {NAME!r} in registry and 'fp32' in registry",
        )
    )
    assert_stops_cleanly(
        inner,
        [
            f"technique '{NAME}' (from conftest.py) clashes with the technique of that name "
            f"(from entry point '{NAME}' ({EXAMPLE}:torchscript) of accel-example-technique): "
            "rename one of them"
        ],
    )


def test_nothing_leaks_from_the_fake_installs() -> None:
    """Last in this file, so after the tests above: no path, module or distribution of
    theirs is left behind."""
    assert not any(str(EXAMPLE_SRC) in p or "site-accel-" in p for p in sys.path)
    assert EXAMPLE not in sys.modules
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution("accel-bad-plugin")
    assert not [e for e in metadata.entry_points(group=ENTRY_POINT_GROUP) if e.name == "bad"]
