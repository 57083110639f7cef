"""CI installs the way the README says, with the pinned versions the repository ships."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
CI = (REPO / ".ci" / "run").read_text(encoding="utf-8")
CONSTRAINTS = (REPO / ".ci" / "constraints.txt").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
TEST_COMMAND = 'pip install -e ".[test]" -c .ci/constraints.txt && python -m pytest -q'


def pins() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in CONSTRAINTS.splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            found.setdefault(canonicalize_name(m.group(1)), []).append(m.group(2))
    return found


def test_ci_runs_the_readmes_test_command_verbatim():
    assert f"\n{TEST_COMMAND}\n" in README
    assert "\npip install -e . -c .ci/constraints.txt && chestview\n" in README
    assert f"\n{TEST_COMMAND}\n" in CI  # as a line of its own, not inside a message


def test_the_refresh_command_is_the_one_that_wrote_the_constraints():
    header = re.search(r"^#\s+(uv pip compile .*)$", CONSTRAINTS, re.M)
    assert header, "the constraints file lost its generated header"
    assert f"pip install uv && {header.group(1)}\n" in README


def test_every_dependency_is_pinned_within_the_torch_cap():
    pinned = pins()
    project = PYPROJECT["project"]
    wanted = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    missing = [r for r in wanted if canonicalize_name(Requirement(r).name) not in pinned]
    assert not missing, (
        f"not in .ci/constraints.txt: {missing}; refresh it with the command in README.md (Pinned versions)"
    )
    for spec in PYPROJECT["tool"]["uv"]["constraint-dependencies"]:
        cap = Requirement(spec)
        for version in pinned[canonicalize_name(cap.name)]:
            assert cap.specifier.contains(version), f"{cap.name}=={version} is outside {cap.specifier}"
    for r in wanted:  # and inside the ranges people get when they install chestview themselves
        req = Requirement(r)
        assert all(req.specifier.contains(v) for v in pinned[canonicalize_name(req.name)]), r
