"""Gradescope autograder bundles: this grader, packed so that Gradescope runs it on every submission.

    python -m grader gradescope --assignment ml_qa --out ml_qa_autograder.zip

Gradescope's autograder specification (gradescope-autograders.readthedocs.io, "Autograder
Specifications"): the uploaded zip holds `setup.sh` and `run_autograder` at its root; Gradescope
extracts it to /autograder/source, runs setup.sh once (as root, on Ubuntu) while building the
image, copies run_autograder to /autograder/run_autograder, and for each submission puts the
student's files in /autograder/submission and runs run_autograder with /autograder as the
working directory. What it reads back is /autograder/results/results.json.

The bundle holds, at its root:

    setup.sh, run_autograder   the two scripts Gradescope requires
    requirements.txt           the grader's dependencies (pyproject.toml's `grader` group)
    pyproject.toml, conftest.py  the pytest configuration and the plugin registration
    grader/                    the grader's core modules, the sandbox, and the tests of the chosen assignments
    specs/<id>/                the rubric and adapter contract of each chosen assignment
    bundle.json                which assignments this bundle grades

run_autograder calls `python -m grader gradescope-run`, which grades the submission exactly as
`pytest grader/ --submission ...` does (the same sandbox and report writers) and copies the
results.json into place. `AUTOGRADER_ROOT` (or --root) replaces /autograder, so a test can lay out
a temporary folder as Gradescope does and run the bundle there.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import tomllib
import zipfile
from pathlib import Path

from grader.run import ROOT

BUNDLE_CONFIG = "bundle.json"

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission, from /autograder, with the student's files in
# /autograder/submission; it must leave /autograder/results/results.json.
# AUTOGRADER_ROOT replaces /autograder (a local test of the bundle); AUTOGRADER_PYTHON the interpreter.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
PYTHON="${AUTOGRADER_PYTHON:-$SOURCE/.venv/bin/python}"
mkdir -p "$ROOT/results"
cd "$SOURCE" && exec "$PYTHON" -m grader gradescope-run --root "$ROOT"
"""

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (it has the network
# then; grading does not need it). It installs Python 3.11+ and the grader's dependencies into
# /autograder/source/.venv. torch comes from PyTorch's CPU index: the default one is a CUDA build
# of several GB. For a local check of the bundle: AUTOGRADER_ROOT replaces /autograder,
# AUTOGRADER_TORCH_INDEX the CPU index ("" for none: the machine's own index has a CPU torch).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
TORCH_INDEX="${AUTOGRADER_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
cd "$ROOT/source"
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY=python3
    python3 -m venv --help >/dev/null 2>&1 && python3 -m ensurepip --version >/dev/null 2>&1 \
        || apt-get install -y python3-venv python3-pip
else
    apt-get install -y software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PY=python3.11
fi
"$PY" -m venv .venv
.venv/bin/python -m pip install --upgrade pip
.venv/bin/python -m pip install ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} -r requirements.txt
# The sandbox runs student code as an unprivileged uid: it must be able to read the interpreter.
chmod -R a+rX "$ROOT/source"
"""


def requirements() -> list[str]:
    """The grader's dependencies, from pyproject.toml (one list, so the bundle cannot drift from it)."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        groups = tomllib.load(f)["dependency-groups"]
    return [r for r in groups["grader"] if isinstance(r, str)]


def _add_tree(z: zipfile.ZipFile, folder: Path, arcname: str) -> None:
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        z.write(path, f"{arcname}/{path.relative_to(folder).as_posix()}")


def _add_text(z: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    z.writestr(info, text)


def write_bundle(out: Path, assignments: list[str], tests_root: Path | None = None, specs_root: Path | None = None) -> Path:
    """Write the autograder zip for these assignments; returns its path."""
    tests_root = Path(tests_root or ROOT / "grader")
    specs_root = Path(specs_root or ROOT / "specs")
    problems = [a for a in assignments if not (specs_root / a / "rubric.toml").is_file() or not (tests_root / a).is_dir()]
    if problems:
        known = sorted(p.parent.name for p in specs_root.glob("*/rubric.toml"))
        raise ValueError(f"no rubric or grader tests for {', '.join(problems)}; the assignments are {', '.join(known)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    core = ROOT / "grader"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        _add_text(z, "setup.sh", SETUP_SH, executable=True)
        _add_text(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add_text(z, "requirements.txt", "\n".join(requirements()) + "\n")
        _add_text(z, BUNDLE_CONFIG, json.dumps({"assignments": list(assignments)}, indent=1) + "\n")
        z.write(ROOT / "pyproject.toml", "pyproject.toml")
        z.write(ROOT / "conftest.py", "conftest.py")
        for path in sorted(core.glob("*.py")):
            z.write(path, f"grader/{path.name}")
        _add_tree(z, core / "sandbox", "grader/sandbox")
        for assignment in assignments:
            _add_tree(z, tests_root / assignment, f"grader/{assignment}")
            _add_tree(z, specs_root / assignment, f"specs/{assignment}")
    return out


# ---------------------------------------------------------------------------------------
# Inside the bundle: grade /autograder/submission
# ---------------------------------------------------------------------------------------


def run_autograder(root: Path | None = None, timeout_s: float = 3000.0) -> int:
    """Grade ROOT/submission into ROOT/results/results.json; always leaves a results.json."""
    from grader.batch import (
        GRADED,
        InvalidSubmission,
        MiB,
        failed_result,
        run_watched,
        safe_unzip,
        submission_root,
    )
    from grader.reports import write_reports
    from grader.run import grading_command

    root = Path(root or os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    source = ROOT  # this module lives in ROOT/grader, inside /autograder/source
    assignments = json.loads((source / BUNDLE_CONFIG).read_text())["assignments"]
    results = root / "results"
    report_dir = results / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="autograder-gradescope-"))
    why = ""
    try:
        folder = root / "submission"
        entries = [e for e in folder.iterdir() if not e.name.startswith(".")] if folder.is_dir() else []
        if len(entries) == 1 and entries[0].is_file() and entries[0].name.lower().endswith(".zip"):
            safe_unzip(entries[0], work, max_bytes=2048 * MiB, max_members=10_000)  # a zip handed in as it is
            folder = work
        folder = submission_root(folder, assignments, tuple(assignments))
        command = grading_command(folder, report_dir, assignments)
        (report_dir / "results.json").unlink(missing_ok=True)
        status, _, message = run_watched(command, results / "grading.log", timeout_s, memory_bytes=64 << 30)
        if status != GRADED:
            why = message
        elif not (report_dir / "results.json").is_file():
            why = f"the grader ended without a result ({message}); course staff will look into it"
    except InvalidSubmission as exc:
        why = str(exc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if why:
        write_reports(failed_result("submission", assignments, source / "specs", why), report_dir)
    shutil.copy(report_dir / "results.json", results / "results.json")
    return 0
