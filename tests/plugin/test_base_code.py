"""`--accel-base`: its usage error, and a real tiny model timed beside the base worker's build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import accel
from tests.plugin.test_plugin import INNER_TEST

pytest_plugins = ["pytester"]

TREE = Path(accel.__file__).resolve().parents[1]  # this checkout: the base is today's code


def test_a_base_that_is_neither_a_directory_nor_a_commit_is_a_usage_error(
    inner: pytest.Pytester,
) -> None:
    result = inner.runpytest("--accel-base=no-such-branch", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--accel-base 'no-such-branch': not a directory*origin/main*"])


def test_help_lists_the_base_option(inner: pytest.Pytester) -> None:
    inner.runpytest("--help").stdout.fnmatch_lines(["*--accel-base=REV*"])


@pytest.mark.slow  # builds and times two cells of a tiny model, and a worker beside (~20 s)
def test_cells_are_timed_beside_the_base_workers_build(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The base is this very tree (a directory): the worker process builds fp32 and ort-fp32
    from the cache the head filled, and each cell's speed is decided on its ratio to that
    build; the answer is timing, so only its form is asserted."""
    from tests.conftest import tiny_model
    from tests.unit.test_base_code import tiny_data

    model = tiny_model()
    model.model.save_pretrained(tmp_path / "tiny")
    model.tokenizer.save_pretrained(tmp_path / "tiny")
    data = tiny_data(tmp_path / "data.json")
    monkeypatch.setenv("ACCEL_CACHE_DIR", str(tmp_path / "cache"))
    pytester.makepyfile(test_gate=INNER_TEST)
    out = pytester.path / "run.json"
    # In a subprocess: an in-process run drops the modules it imported (onnx, datasets), which
    # then cannot be imported again by the tests that follow in this process.
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-q", "-W", "ignore",
        "--accel-techniques=fp32,ort-fp32", "--accel-device=cpu",
        f"--accel-model={tmp_path / 'tiny'}", f"--accel-data={data}",
        "--accel-rounds=2", "--accel-no-scaling", "--accel-no-serving",
        "--accel-update-baselines", f"--accel-base={TREE}", f"--accel-json={out}",
    )  # fmt: skip
    run = json.loads(out.read_text())
    assert run["run"]["base"] == str(TREE)
    verdicts = {c["cell"]: c["verdict"] for c in run["cells"]}
    assert set(verdicts) == {"fp32/cpu", "ort-fp32/cpu"}
    written = r"baseline written \(vs the base code: (same|slower|undecided)\)"
    assert re.search(written, verdicts["fp32/cpu"]), verdicts
    # ort-fp32 of a tiny model may break its contract's speedup: its verdict then says only that.
    assert re.search(written, verdicts["ort-fp32/cpu"]) or verdicts["ort-fp32/cpu"].startswith(
        "FAIL contract"
    ), verdicts
