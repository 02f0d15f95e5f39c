"""Grade one submission from Python, the way an instructor would from the shell.

    results = grade(Path("students/ada"), report_dir=Path("reports/ada"))
    results["score"]

Runs `pytest grader/ --submission ...` in a fresh process (so nothing from an earlier grading
lingers) and returns the parsed results.json. Batch grading and the project's own tests use it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class GradingRunFailed(RuntimeError):
    """The grading run ended without writing results.json (a usage error or a grader bug)."""


@dataclass
class GradingRun:
    results: dict
    returncode: int
    output: str  # the terminal output of the pytest run


def grading_command(
    submission: Path,
    report_dir: Path,
    assignments: list[str] | tuple[str, ...] = (),
    tests_root: Path | None = None,
    specs_root: Path | None = None,
    extra_args: list[str] | tuple[str, ...] = (),
    tests: list[str | Path] | tuple[str | Path, ...] = (),
) -> list[str]:
    """The `pytest grader/ --submission ...` command line that grade() runs (batch grading runs it too).

    tests: the test files (or folders) to run instead of the whole tests root, e.g. one file of
    grader/gpt2/ (a path passed in extra_args would be collected beside grader/, not instead)."""
    command = [
        sys.executable, "-m", "pytest", *(map(str, tests) if tests else [str(tests_root or ROOT / "grader")]),
        "--submission", str(Path(submission).resolve()),
        "--report-dir", str(Path(report_dir).resolve()),
        "-p", "no:cacheprovider", "-q", "--color=no",
    ]
    for assignment in assignments:
        command += ["--assignment", assignment]
    if tests_root is not None:
        command += ["-o", f"autograder_tests={Path(tests_root).resolve()}"]
    if specs_root is not None:
        command += ["-o", f"autograder_specs={Path(specs_root).resolve()}"]
    return command + list(extra_args)


def grade(
    submission: Path,
    report_dir: Path,
    assignments: list[str] | tuple[str, ...] = (),
    tests_root: Path | None = None,
    specs_root: Path | None = None,
    extra_args: list[str] | tuple[str, ...] = (),
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    tests: list[str | Path] | tuple[str | Path, ...] = (),
) -> GradingRun:
    """env: variables to set for this grading on top of the current environment; tests: as in
    grading_command (default: every test of the assignments)."""
    command = grading_command(submission, report_dir, assignments, tests_root, specs_root, extra_args, tests)
    results_path = Path(report_dir) / "results.json"
    results_path.unlink(missing_ok=True)
    environment = {**os.environ, **env} if env else None
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environment)
    output = proc.stdout + proc.stderr
    if not results_path.is_file():
        raise GradingRunFailed(f"grading {submission} wrote no results.json (exit status {proc.returncode}):\n{output}")
    return GradingRun(json.loads(results_path.read_text()), proc.returncode, output)
