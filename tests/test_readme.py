"""The README's two commands stay true: CI runs the test command verbatim. The README and
docs/ stay linked and complete: every link resolves, every option is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def _top_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text)[:2]


def test_readme_starts_with_the_main_job_and_the_tests() -> None:
    main_job, tests = _top_commands()
    assert main_job.endswith("accel run")
    # The unit tests in parallel, then the gate alone (its timing shares no core), without the
    # ungated scaling figures (the main job keeps them).
    assert tests.endswith(
        ".venv/bin/pytest -n auto tests && .venv/bin/pytest accel.plugin.suite --accel-no-scaling"
    )


def test_ci_runs_the_readme_test_command() -> None:
    _, tests = _top_commands()
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_stays_a_guide() -> None:
    """Methods, measurements and history belong in docs/; the README stays a few screens."""
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 250, f"README.md has {lines} lines; move detail to docs/"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(h) for h in HEADING.findall(text)}


PAGES = [README, *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(page: Path) -> None:
    """Every relative link of the README and docs/ names an existing file and heading."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # an external address
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no such heading")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_docs_index_lists_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in DOCS.glob("*.md") if p.name != "README.md" and p.name not in index]
    assert not missing, f"docs/README.md does not list {missing}"


def test_readme_documents_every_option() -> None:
    """Every option the plugin declares (accel/plugin/options.py) has a row in the README."""
    from accel.plugin.options import OPTIONS, PYTEST_PREFIX

    declared = {PYTEST_PREFIX + option.name for option in OPTIONS}
    rows = set(re.findall(r"^\| `(--accel-[a-z-]+)", README.read_text(encoding="utf-8"), re.M))
    assert declared <= rows, f"options missing from the README: {sorted(declared - rows)}"
