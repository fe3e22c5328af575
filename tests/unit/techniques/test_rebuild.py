"""``--accel-rebuild``: a named technique's artifacts are built anew, each once per run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from accel.artifacts.models import Classifier
from accel.techniques import BuildContext

# Keys read only the reference's fingerprint: no model or tokenizer is needed.
REFERENCE = Classifier(None, None, (), "ref", "sha256:ref")  # type: ignore[arg-type]


def _counting(builds: list[int]) -> Callable[[Path], None]:
    def build(out: Path) -> None:
        builds.append(1)
        (out / "file").write_text("x")

    return build


def test_rebuild_builds_each_artifact_once_per_run(tmp_path: Path) -> None:
    builds: list[int] = []
    build = _counting(builds)

    def cell(rebuild: bool, rebuilt: set[str]) -> None:
        ctx = BuildContext(REFERENCE, None, "cpu", 1, tmp_path, rebuild=rebuild, rebuilt=rebuilt)
        ctx.artifact("thing", {"n": 1}, build)

    cell(False, set())  # cold: built
    cell(False, set())  # warm: reused
    assert len(builds) == 1
    run: set[str] = set()
    cell(True, run)  # rebuilt
    cell(True, run)  # a second cell of the same run: not again
    assert len(builds) == 2
    cell(True, set())  # the next run rebuilds again
    assert len(builds) == 3


def test_a_cells_provenance_lists_each_artifact_once(tmp_path: Path) -> None:
    builds: list[int] = []
    ctx = BuildContext(REFERENCE, None, "cpu", 1, tmp_path)
    first = ctx.artifact("thing", {"n": 1}, _counting(builds))
    ctx.artifact("thing", {"n": 1}, _counting(builds))
    assert [a.key for a in ctx.used] == [first.key]
    assert first.record() == {"kind": "thing", "key": first.key, "definition": first.definition}
