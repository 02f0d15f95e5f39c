"""The Gradescope bundle: laid out as Gradescope's autograder specification asks, and working when its
run_autograder runs against a folder laid out as Gradescope lays out /autograder."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.__main__ import main

from .conftest import DEMO, ROOT

SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())


def autograder_root(tmp_path: Path, bundle: Path) -> Path:
    """What Gradescope does with an uploaded bundle: extract it to /autograder/source (keeping the
    scripts' executable bits) and copy run_autograder to /autograder/run_autograder."""
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(bundle) as z:
        for info in z.infolist():
            z.extract(info, source)
            mode = info.external_attr >> 16
            if mode:
                os.chmod(source / info.filename, stat.S_IMODE(mode))
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results


@pytest.fixture(scope="module")
def ml_qa_bundle(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle") / "ml_qa.zip"
    assert main(["gradescope", "--assignment", "ml_qa", "--out", str(bundle)]) == 0
    return bundle


def test_the_bundle_follows_gradescopes_layout(ml_qa_bundle):
    with zipfile.ZipFile(ml_qa_bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        setup = z.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "requirements.txt", "conftest.py", "pyproject.toml", "bundle.json"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert {"grader/plugin.py", "grader/sandbox/worker.py", "grader/ml_qa/test_ml_qa.py", "specs/ml_qa/rubric.toml"} <= names
    assert not any(n.startswith(("grader/gpt2/", "specs/gpt2/", "solutions/", "tests/")) for n in names)  # only what it grades
    assert "torch==2.13.0" in zipfile.ZipFile(ml_qa_bundle).read("requirements.txt").decode()
    assert subprocess.run(["bash", "-n"], input=setup, text=True).returncode == 0


def test_run_autograder_grades_a_submission_like_a_single_grading(ml_qa_bundle, tmp_path):
    root = autograder_root(tmp_path, ml_qa_bundle)
    # a student uploads the files of their ml_qa folder: they land directly in /autograder/submission
    shutil.copy(ROOT / "fixtures" / "submissions" / "ml_qa_some_wrong" / "ml_qa" / "answers.toml", root / "submission")
    results = run_autograder(root)
    assert results["score"] == pytest.approx(4.3333, abs=1e-4)  # fixtures/submissions/ml_qa_some_wrong/expected.toml
    assert {t["name"].rsplit(":", 1)[1].rstrip("]") for t in results["tests"]} == {"q1", "q2", "q3", "q4", "q5"}


def test_run_autograder_writes_results_for_an_empty_submission(ml_qa_bundle, tmp_path):
    root = autograder_root(tmp_path, ml_qa_bundle)
    results = run_autograder(root)
    assert results["score"] == 0
    assert all(t["score"] == 0 for t in results["tests"])


def test_a_demo_bundle_survives_a_submission_that_kills_its_process(tmp_path):
    bundle = tmp_path / "demo.zip"
    assert main(["gradescope", "--assignment", "demo", "--out", str(bundle),
                 "--tests-root", str(DEMO / "grader"), "--specs-root", str(DEMO / "specs")]) == 0
    root = autograder_root(tmp_path, bundle)
    # handed in as a zip of the demo/ folder, as Gradescope may leave it
    shutil.make_archive(str(root / "submission" / "handin"), "zip", DEMO / "submissions" / "exits", "demo")
    results = run_autograder(root)
    assert results["score"] == 3  # fixtures/demo_assignment/submissions/exits/expected.toml
    add = next(t for t in results["tests"] if t["name"].endswith("[demo:add]"))
    assert "ended the worker process with exit status 0" in add["output"]


def test_an_unknown_assignment_is_refused(tmp_path, capsys):
    assert main(["gradescope", "--assignment", "nope", "--out", str(tmp_path / "b.zip")]) == 2
    assert "no rubric or grader tests for nope" in capsys.readouterr().err
