"""Adversarial and malformed submissions get exactly the score their expected.toml names, and
nothing they do leaks out of the grading run.

Each folder under fixtures/submissions/adversarial/ and fixtures/submissions/malformed/ is graded
for real (`pytest grader/ --submission ...` in a fresh process, grader.run.grade) and checked:

- the score of each assignment and item is exactly the expected one, and each item listed in
  `attacked` scores 0, what an empty submission scores: no attack earns anything;
- the report folder holds only what the grader writes, with no control characters and no
  output longer than the reports' caps;
- no file of the grader, the specs, the reference solutions or the fixtures changed;
- no process the submission started is left running.

Folders whose expected.toml grades `demo` use the demo assignment (fixtures/demo_assignment),
whose calls time out after 5 s; the others use the real assignments with the time and memory
limits tightened through AUTOGRADER_SANDBOX_LIMITS so that an attack that runs to its limit
costs seconds. The network namespace is switched on (AUTOGRADER_SANDBOX_NETNS=1) so that the
network attacks are refused.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from grader.run import grade

from .conftest import DEMO, ROOT

FIXTURES = ROOT / "fixtures" / "submissions"
SLOW_ASSIGNMENTS = {"gpt2"}  # a minute or more per grading; every attack on them is also tried on a cheap one
CASES = [
    pytest.param(
        path.parent,
        id=f"{path.parent.parent.name}/{path.parent.name}",
        marks=[pytest.mark.slow] if SLOW_ASSIGNMENTS & set(tomllib.loads(path.read_text())) else [],
    )
    for kind in ("adversarial", "malformed")
    for path in sorted((FIXTURES / kind).glob("*/expected.toml"))
]
REPORT_FILES = {"results.json", "report.md", "report.html", "junit.xml"}
MAX_TEST_OUTPUT = 64_000  # an item's output: a few lines per check, each message capped at 6000 characters
LEFTOVER_MARKER = "adversarial-leftover"
GRADING_ENV = {
    "AUTOGRADER_SANDBOX_NETNS": "1",
    "AUTOGRADER_SANDBOX_LIMITS": "call_timeout_s=10,startup_timeout_s=60,memory_gib=2",
}
# What a grading must leave unchanged (the other assignments' folders are being written to by
# their authors while these tests run, so only the ones the fixtures attack are watched).
WATCHED = ["grader/sandbox", "grader/grokking", "grader/ml_qa", "grader/attention_scaling", "grader/bias_variance_sgd",
           "specs/grokking", "specs/ml_qa", "specs/attention_scaling", "specs/bias_variance_sgd",
           "solutions/grokking/adapters.py", "solutions/ml_qa", "solutions/attention_scaling/adapters.py",
           "solutions/bias_variance_sgd/adapters.py", "fixtures/demo_assignment", "fixtures/submissions"]


def snapshot() -> dict[str, tuple[int, int]]:
    state = {}
    for name in WATCHED:
        top = ROOT / name
        paths = [top] if top.is_file() else [p for p in top.rglob("*") if "__pycache__" not in p.parts]
        for path in paths:
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                state[str(path.relative_to(ROOT))] = (stat.st_mtime_ns, stat.st_size)
    return state


def leftover_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if LEFTOVER_MARKER in cmdline and "pytest" not in cmdline:
                found.append(f"{entry}: {cmdline}")
    return found


@pytest.fixture
def listening_socket():
    """A port that listens on this machine's loopback during the grading: the network attack must
    not reach it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def grade_fixture(submission: Path, report_dir: Path):
    expected = tomllib.loads((submission / "expected.toml").read_text())
    demo = "demo" in expected
    run = grade(
        submission,
        report_dir,
        assignments=list(expected),
        tests_root=DEMO / "grader" if demo else None,
        specs_root=DEMO / "specs" if demo else None,
        timeout=600,
        env=GRADING_ENV if not demo else {k: v for k, v in GRADING_ENV.items() if k != "AUTOGRADER_SANDBOX_LIMITS"},
    )
    return expected, run


def check_scores(expected: dict, run) -> None:
    tests = {t["name"].rsplit(":", 1)[1].rstrip("]"): t for t in run.results["tests"]}
    for assignment, want in expected.items():
        got = run.results["extra_data"]["assignments"][assignment]["score"]
        assert got == pytest.approx(want["score"], abs=1e-4), run.output
        for item in want.get("attacked", []):
            assert tests[item]["score"] == 0, f"the attack on {item} earned points: {tests[item]['output']}"
        for item, points in want.get("items", {}).items():
            assert tests[item]["score"] == pytest.approx(points, abs=1e-4), f"{item}: {tests[item]['output']}"
        for item, text in want.get("messages", {}).items():
            assert text in tests[item]["output"], f"{item}: {text!r} not in {tests[item]['output']!r}"


def check_reports(report_dir: Path, results: dict) -> None:
    assert {p.name for p in report_dir.iterdir()} == REPORT_FILES
    for test in results["tests"]:
        assert len(test["output"]) <= MAX_TEST_OUTPUT, test["name"]
    for path in report_dir.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not any(c in text for c in "\x1b\x9b\x07\u202e"), f"{path.name} holds a control character"
        assert len(text) < 2_000_000, f"{path.name} is {len(text)} characters long"


@pytest.mark.parametrize("submission", CASES)
def test_adversarial_or_malformed_submission_gets_its_expected_score(submission: Path, tmp_path, listening_socket):
    before = snapshot()
    expected, run = grade_fixture(submission, tmp_path / "report")
    check_scores(expected, run)
    check_reports(tmp_path / "report", run.results)
    assert snapshot() == before, "grading changed files outside the report folder"
    assert not leftover_processes(), "the submission left processes running"
    assert not Path("/tmp/adversarial-reduce-ran").exists(), "a result was unpickled"


@pytest.mark.slow
def test_a_batch_over_every_fixture_and_the_reference_completes(tmp_path):
    """python -m grader batch over all the adversarial and malformed fixtures of the cheap
    assignments plus the reference: every student gets a row, the reference scores full marks."""
    students = tmp_path / "students"
    students.mkdir()
    for case in CASES:
        submission = case.values[0]
        if not {"demo", *SLOW_ASSIGNMENTS} & set(tomllib.loads((submission / "expected.toml").read_text())):
            shutil.copytree(submission, students / f"{submission.parent.name}-{submission.name}", symlinks=True)
    shutil.copytree(ROOT / "solutions" / "ml_qa", students / "reference" / "ml_qa")
    for assignment in ("grokking", "attention_scaling", "bias_variance_sgd"):
        shutil.copytree(ROOT / "solutions" / assignment, students / "reference" / assignment, symlinks=True)
    command = [sys.executable, "-m", "grader", "batch", str(students), "--out", str(tmp_path / "out"), "--jobs", "1",
               "--assignment", "ml_qa", "--assignment", "grokking", "--assignment", "attention_scaling",
               "--assignment", "bias_variance_sgd", "--timeout", "900", "-q"]
    env = {**os.environ, **GRADING_ENV}
    env.pop("AUTOGRADER_SANDBOX_LIMITS")  # the reference trains nothing, but its checks need the real limits
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = (tmp_path / "out" / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + len(list(students.iterdir()))
    import json

    reference = json.loads((tmp_path / "out" / "students" / "reference" / "results.json").read_text())
    for assignment in reference["extra_data"]["assignments"].values():
        assert assignment["score"] == pytest.approx(assignment["auto_max"]), assignment
    assert not leftover_processes()
