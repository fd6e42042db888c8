"""Packaging: requirements.txt agrees with pyproject.toml; CI runs the README's command."""

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.settings import PROJECT_ROOT


def pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def pinned_requirements() -> dict[str, Requirement]:
    lines = (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith(("#", "-"))]
    return {canonicalize_name(r.name): r for r in reqs}


def test_requirements_pin_exactly_the_runtime_dependencies_within_their_ranges():
    declared = {
        canonicalize_name(r.name): r
        for r in map(Requirement, pyproject()["project"]["dependencies"])
    }
    pinned = pinned_requirements()
    assert set(pinned) == set(declared)
    for name, requirement in pinned.items():
        [spec] = requirement.specifier
        assert spec.operator == "==", f"{name} is not pinned in requirements.txt"
        assert declared[name].specifier.contains(spec.version), f"{name}=={spec.version}"


def test_torch_and_gradio_are_pinned_where_it_matters():
    declared = {
        Requirement(r).name: str(Requirement(r).specifier)
        for r in pyproject()["project"]["dependencies"]
    }
    assert declared["torch"] == "==2.13.0"
    assert declared["gradio"].startswith("==")


def test_ci_runs_the_readmes_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    commands = re.findall(r"^make (\w+)", readme, re.M)
    assert commands[:2] == ["run", "test"]
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert [
        line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))
    ] == ["make test"]
