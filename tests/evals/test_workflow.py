"""The CI workflow that runs the evals: triggers, Python, pip cache, install, and the command."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from bot.settings import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "evals.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def steps(workflow) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def uses(steps, action: str) -> dict:
    (step,) = [s for s in steps if s.get("uses", "").startswith(f"{action}@")]
    return step


def run_lines(steps) -> list[str]:
    return [line.strip() for s in steps for line in s.get("run", "").splitlines() if line.strip()]


def documented_eval_command(readme: str, makefile: str) -> str:
    """The eval command as the README documents it (a `python -m evals` line in a code block),
    else as the Makefile's `evals` target runs it."""
    for block in re.findall(r"```[^\n]*\n(.*?)```", readme, re.DOTALL):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip().removeprefix("$ ").strip()
            if re.match(r"(?:\S*/)?python3? -m evals\b", command):
                return command
    target = re.search(r"^evals:.*\n((?:\t.*\n?)+)", makefile, re.MULTILINE)
    assert target, "neither README.md nor the Makefile's evals target documents the eval command"
    (command,) = [line.strip() for line in target.group(1).splitlines() if "-m evals" in line]
    return command


def project_eval_command() -> str:
    readme, makefile = (PROJECT_ROOT / "README.md", PROJECT_ROOT / "Makefile")
    return documented_eval_command(
        readme.read_text(encoding="utf-8"), makefile.read_text(encoding="utf-8")
    )


def normalize(command: str) -> list[str]:
    """`$(BIN)/python -m evals` and `.venv/bin/python -m evals` are `python -m evals`."""
    words = shlex.split(command)
    return ["python" if re.search(r"(?:^|/)python3?$", words[0]) else words[0], *words[1:]]


def test_runs_on_every_push_and_pull_request(workflow):
    triggers = workflow[True]  # PyYAML reads the bare key `on` as the boolean True
    assert "push" in triggers and "pull_request" in triggers
    for event in ("push", "pull_request"):
        assert not (triggers[event] or {}).get("branches"), f"{event} is limited to some branches"


def test_python_311_with_the_pip_cache_keyed_on_pyproject(steps):
    assert uses(steps, "actions/checkout")
    setup = uses(steps, "actions/setup-python")["with"]
    assert str(setup["python-version"]) == "3.11"
    assert setup["cache"] == "pip"
    assert setup["cache-dependency-path"] == "pyproject.toml"


def test_installs_like_the_makefile(steps):
    lines = run_lines(steps)
    torch = lines.index("pip install torch==2.13.0")
    assert lines.index('pip install -e ".[dev]"') > torch
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/pip install torch==2.13.0" in makefile
    assert '$(BIN)/pip install -e ".[dev]"' in makefile


def test_runs_the_documented_eval_command_and_writes_the_report(steps):
    documented = normalize(project_eval_command())
    assert documented[:3] == ["python", "-m", "evals"]
    commands = [normalize(line) for line in run_lines(steps) if "-m evals" in line]
    assert len(commands) == 1
    (command,) = commands
    assert command[: len(documented)] == documented  # the documented command, maybe plus --out
    assert command[command.index("--out") + 1] == "reports/evals"


def test_uploads_the_report_even_when_the_gate_fails(steps):
    upload = uses(steps, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "reports/evals"
    eval_step = next(i for i, s in enumerate(steps) if "-m evals" in s.get("run", ""))
    assert steps.index(upload) > eval_step


def test_the_documented_command_is_read_from_the_readme_first_then_the_makefile():
    makefile = "evals: install\n\t$(BIN)/python -m evals\n\nother:\n\ttrue\n"
    readme = "# X\n\n```bash\nmake test\npython -m evals --out reports/evals  # gate\n```\n"
    assert documented_eval_command(readme, makefile) == "python -m evals --out reports/evals"
    assert documented_eval_command("# X\n\nNo commands.\n", makefile) == "$(BIN)/python -m evals"
    assert normalize("$(BIN)/python -m evals") == ["python", "-m", "evals"]
