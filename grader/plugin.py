"""The pytest plugin behind `pytest grader/ --submission PATH`.

It is registered by the root conftest.py and stays inert unless the run collects tests from the
grader's test folder (ini `autograder_tests`, default `grader/`). When grading, it:

1. resolves the submission folder and the assignments to grade (--submission, --assignment);
2. checks the rubric against the tests' @pytest.mark.rubric markers and stops with one clear
   error when they disagree;
3. makes hypothesis derandomized, so a regrade gives the same score;
4. turns each test's failure into a message for the student and records its outcome;
5. at the end scores every rubric item, prints the score table and writes the reports.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader.answers import AnswerError
from grader.reports import terminal_table, write_reports
from grader.results import GradingResult, TestRecord, score_assignment
from grader.rubric import Rubric, RubricError, load_rubric
from grader.sandbox import SubmissionError
from grader.submission import Submission
from grader.text import clean

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_NAME = "autograder-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograder", "grading a submission")
    group.addoption(
        "--submission",
        metavar="PATH",
        default=None,
        help="the submission to grade: a folder with one subfolder per assignment, or one assignment's "
        "folder (name it with --assignment). Default: the reference solutions in solutions/.",
    )
    group.addoption(
        "--assignment",
        metavar="ID",
        action="append",
        default=[],
        help="grade this assignment (repeatable). Default: every assignment the submission folder contains.",
    )
    group.addoption(
        "--report-dir",
        metavar="DIR",
        default=None,
        help="where to write results.json, report.md, report.html and junit.xml "
        "(default: reports/<submission folder name>/)",
    )
    parser.addini("autograder_tests", "folder holding one test package per assignment", default=str(ROOT / "grader"))
    parser.addini("autograder_specs", "folder holding specs/<id>/rubric.toml", default=str(ROOT / "specs"))
    parser.addini("autograder_solutions", "the reference solutions, graded when --submission is absent", default=str(ROOT / "solutions"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rubric(item_id, weight=1): the rubric item this grader test counts towards, and its share")
    tests_root = Path(config.getini("autograder_tests")).resolve()
    if not any(_inside(arg, tests_root, config) for arg in config.args):
        return
    try:
        config.pluginmanager.register(GradingSession(config, tests_root), PLUGIN_NAME)
    except (RubricError, SubmissionChoiceError) as exc:
        raise pytest.UsageError(str(exc)) from None


def _inside(arg: str, root: Path, config: pytest.Config) -> bool:
    path = Path(arg.split("::")[0])
    if not path.is_absolute():
        path = Path(config.invocation_params.dir) / path
    path = path.resolve()
    return path == root or root in path.parents


class SubmissionChoiceError(Exception):
    pass


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Submission:
    """The submission's folder for the assignment this test belongs to."""
    grading: GradingSession | None = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if grading is None:
        pytest.skip("grader tests run only through `pytest grader/`")
    sub = grading.submission_for(request.node)
    sub.begin_test()
    return sub


@pytest.fixture
def adapters(submission: Submission):
    """The submission's adapter functions; each call runs in the sandbox."""
    return submission.adapters


class GradingSession:
    """State of one grading run; registered as a plugin so its hooks see every test."""

    def __init__(self, config: pytest.Config, tests_root: Path):
        self.config = config
        self.tests_root = tests_root
        self.specs_root = Path(config.getini("autograder_specs")).resolve()
        self.start = time.monotonic()
        self.records: dict[str, TestRecord] = {}
        self.submissions: dict[str, Submission] = {}
        self.result: GradingResult | None = None
        self.report_paths: list[Path] = []
        self.collection_ok = False

        option = config.getoption("submission")
        base = Path(config.invocation_params.dir)
        self.submission_dir = (base / option).resolve() if option else Path(config.getini("autograder_solutions")).resolve()
        if not self.submission_dir.is_dir():
            raise SubmissionChoiceError(f"--submission {self.submission_dir}: no such folder")
        known = sorted(p.parent.name for p in self.specs_root.glob("*/rubric.toml"))
        requested = config.getoption("assignment") or self._assignments_named_by_paths(config)
        self.folders = self._choose_assignments(requested, known)
        self.rubrics: dict[str, Rubric] = {a: load_rubric(self.specs_root / a / "rubric.toml") for a in self.folders}
        report_dir = config.getoption("report_dir")
        self.report_dir = (base / report_dir).resolve() if report_dir else Path(config.rootpath) / "reports" / self.submission_dir.name
        self._use_grading_profile()

    # Which folders to grade ------------------------------------------------------------

    def _assignments_named_by_paths(self, config) -> list[str]:
        """`pytest grader/gpt2 ...` grades gpt2 alone; `pytest grader/` (or any path above) grades all."""
        named = []
        for arg in config.args:
            path = Path(arg.split("::")[0])
            path = (Path(config.invocation_params.dir) / path).resolve()
            try:
                parts = path.relative_to(self.tests_root).parts
            except ValueError:
                continue
            if not parts:
                return []  # the whole grader: every assignment
            named.append(parts[0])
        return sorted(set(named))

    def _choose_assignments(self, requested: list[str], known: list[str]) -> dict[str, Path]:
        unknown = [a for a in requested if a not in known]
        if unknown:
            raise SubmissionChoiceError(f"unknown assignment {', '.join(unknown)}; the assignments are {', '.join(known)}")
        here = self.submission_dir
        if requested:
            folders = {}
            for a in requested:
                if (here / a).is_dir() or not _looks_like_assignment_folder(here):
                    folders[a] = here / a  # may be missing: then every test of it says so
                else:
                    folders[a] = here  # PATH is this assignment's own folder
            return folders
        found = {a: here / a for a in known if (here / a).is_dir()}
        if found:
            return found
        if here.name in known:
            return {here.name: here}
        raise SubmissionChoiceError(
            f"{here} holds no assignment folder (expected one of {', '.join(known)}); "
            "if it is one assignment's folder, name the assignment with --assignment"
        )

    def _use_grading_profile(self) -> None:
        from hypothesis import HealthCheck, Phase, settings

        settings.register_profile(
            "grading",
            derandomize=True,
            database=None,
            deadline=None,
            # No shrinking: it reruns the submission's code dozens of times per failing property
            # (up to a minute each for a model in the sandbox). The first failing example, which
            # derandomize makes the same on every regrade, is what the message shows.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            print_blob=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
        )
        if not self.config.getoption("hypothesis_profile", None):
            settings.load_profile(os.environ.get("AUTOGRADER_HYPOTHESIS_PROFILE", "grading"))

    def assignment_of(self, node) -> str | None:
        try:
            parts = Path(node.path).resolve().relative_to(self.tests_root).parts
        except ValueError:
            return None
        return parts[0] if len(parts) > 1 else None

    def submission_for(self, node) -> Submission:
        assignment = self.assignment_of(node)
        if assignment not in self.submissions:
            self.submissions[assignment] = Submission(
                assignment, self.folders[assignment], self.rubrics[assignment], self.specs_root / assignment
            )
        return self.submissions[assignment]

    # Collection: the rubric and the tests must agree ----------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        keep, drop, problems = [], [], []
        self.item_of: dict[str, tuple[str, str]] = {}
        self.weight_of: dict[str, float] = {}
        tested: dict[str, set[str]] = {a: set() for a in self.folders}
        for item in items:
            assignment = self.assignment_of(item)
            if assignment is None:
                keep.append(item)
                continue
            if assignment not in self.folders:
                drop.append(item)
                continue
            keep.append(item)
            rubric = self.rubrics[assignment]
            marker = item.get_closest_marker("rubric")
            if marker is None or len(marker.args) != 1:
                problems.append(f"{item.nodeid}: has no @pytest.mark.rubric(\"item id\") marker")
                continue
            weight = marker.kwargs.get("weight", 1)
            if set(marker.kwargs) - {"weight"} or not isinstance(weight, (int, float)) or weight <= 0:
                problems.append(f"{item.nodeid}: the rubric marker takes one item id and an optional positive weight=")
                continue
            self.weight_of[item.nodeid] = float(weight)
            rubric_item = rubric.item(marker.args[0])
            if rubric_item is None:
                problems.append(f"{item.nodeid}: names rubric item {marker.args[0]!r}, which {rubric.path} does not list")
            elif rubric_item.kind == "manual":
                problems.append(f"{item.nodeid}: names {rubric_item.id!r}, a manual item, which no test may score")
            else:
                self.item_of[item.nodeid] = (assignment, rubric_item.id)
                tested[assignment].add(rubric_item.id)
        self.partial_run = self._narrowed(config)
        if not self.partial_run:
            for assignment, rubric in self.rubrics.items():
                for rubric_item in rubric.items:
                    if rubric_item.kind == "auto" and rubric_item.id not in tested[assignment]:
                        problems.append(f"{rubric.path}: auto item {rubric_item.id!r} has no test")
        if problems:
            raise pytest.UsageError("the rubric and the grader's tests disagree:\n  - " + "\n  - ".join(problems))
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.collection_ok = True

    @staticmethod
    def _narrowed(config) -> bool:
        if config.option.keyword or config.option.markexpr or config.getoption("deselect", None):
            return True
        tests_root = Path(config.getini("autograder_tests")).resolve()
        for arg in config.args:
            path = Path(arg.split("::")[0])
            if "::" in arg or path.is_file():
                return True
            path = (Path(config.invocation_params.dir) / path).resolve()
            if tests_root in path.parents and path.parent != tests_root:
                return True  # a folder inside one assignment's tests
        return False

    # Running: record outcomes with messages for students --------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if item.nodeid not in self.item_of:
            return
        assignment, item_id = self.item_of[item.nodeid]
        record = self.records.setdefault(item.nodeid, TestRecord(item.nodeid, item.name, item_id, weight=self.weight_of[item.nodeid]))
        if call.when == "call":
            record.duration = call.duration
        if report.skipped and record.outcome != "failed":
            record.outcome = "skipped"
            record.message = _skip_reason(report)
        elif report.failed and record.outcome != "failed":
            message, internal = student_message(call.excinfo)
            record.outcome = "failed"
            record.message = message
            record.internal_error = internal
            if not internal:
                report.longrepr = message  # the terminal shows what the student will read

    # Finishing: score, print, write ----------------------------------------------------------

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        for sub in self.submissions.values():
            sub.close()
        if not self.collection_ok:
            return
        assignments = []
        for index, (assignment, folder) in enumerate(self.folders.items(), start=1):
            rubric = self.rubrics[assignment]
            records = [r for r in self.records.values() if self.item_of[r.nodeid][0] == assignment]
            result = score_assignment(rubric, index, records, _shown(folder))
            if not folder.is_dir():
                result.notes.append(f"the submission has no folder {assignment}/, so nothing of it could be graded")
            sub = self.submissions.get(assignment) or Submission(assignment, folder, rubric, self.specs_root / assignment)
            for rubric_item in rubric.items:
                if rubric_item.explanation:
                    text = sub.explanation(rubric_item.explanation)
                    if text.strip():
                        result.explanations[rubric_item.id] = text
            assignments.append(result)
        self.result = GradingResult(
            submission=self.submission_dir.name,
            assignments=assignments,
            execution_time=time.monotonic() - self.start,
            partial_run=self.partial_run,
        )
        self.report_paths = write_reports(self.result, self.report_dir)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.result is None:
            return
        tr = terminalreporter
        tr.section(f"grade: {self.result.submission}")
        for line in terminal_table(self.result, width=tr._tw.fullwidth):
            tr.write_line(line)
        internal = [r for r in self.records.values() if r.internal_error]
        if internal:
            tr.write_line(f"{len(internal)} test(s) hit an internal grader error; see the tracebacks above", red=True)
        if self.result.partial_run:
            tr.write_line("only some tests ran (a selection was given): this is not a full grade", yellow=True)
        tr.write_line(f"reports: {', '.join(str(p) for p in self.report_paths)}")


def _shown(folder: Path) -> str:
    try:
        return str(folder.relative_to(Path.cwd()))
    except ValueError:
        return str(folder)


def _looks_like_assignment_folder(path: Path) -> bool:
    return (path / "adapters.py").is_file() or (path / "answers.toml").is_file()


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return clean(str(longrepr[2]).removeprefix("Skipped: "), 500)
    return clean(str(longrepr), 500)


def student_message(excinfo) -> tuple[str, bool]:
    """(message for the student, whether the grader itself failed) for a failed test phase."""
    if excinfo is None:
        return "failed", False
    exc = excinfo.value
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]  # hypothesis found several distinct failures: show the first
    notes = "\n".join(str(n) for n in getattr(exc, "__notes__", []) or [])
    if isinstance(exc, pytest.fail.Exception):
        message, internal = exc.msg, False
    elif isinstance(exc, (SubmissionError, AnswerError)):
        message, internal = str(exc), False
    elif isinstance(exc, AssertionError):
        message, internal = str(exc) or "a check failed", False
    else:
        message = f"the grader hit an internal error ({type(exc).__name__}: {exc}); course staff will look into it"
        internal = True
    if notes:
        message = f"{message}\n{notes}"
    return clean(message, 6000), internal
