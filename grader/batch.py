"""Grade a whole class: one submission per student, N gradings at a time, one record per student.

    python -m grader batch SUBMISSIONS --out DIR --jobs 2

SUBMISSIONS holds one entry per student: a folder or a .zip, named after the student. Each is
graded by its own `pytest grader/ --submission ...` process (grader.run.grading_command), which
runs the student's code in the sandbox as a single grading does. The batch watches each grading
process from outside: past the per-student time limit or memory limit it kills the process and
everything it started, and records why. Whatever happens to one student (a bad zip, a crash, a
hang, a memory blow-up) becomes that student's row and reports; it never stops the batch.

Output, in DIR:

    students/<student>/   results.json, report.md, report.html, junit.xml  (as a single grading)
                          grading.json  the whole result, for rewriting the reports (grader.resultfile)
                          grading.log   the grading process's terminal output
                          batch.json    status, seconds, message, and the submission's fingerprint
    gradebook.csv, class.html          the class reports (grader.classreport)
    manual_scores.json                 the manual scores merged so far (grader.manual)

A rerun skips every student whose batch.json matches the submission's current fingerprint;
--regrade grades everyone again, --only STUDENT grades the named students again.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from grader import manual
from grader.reports import write_reports
from grader.resultfile import load_result, save_result
from grader.results import GradingResult, score_assignment
from grader.rubric import RubricError, load_rubric
from grader.run import ROOT, grading_command
from grader.sandbox.client import resident_bytes
from grader.text import clean, first_line

GiB = 1 << 30
MiB = 1 << 20

# The statuses a student's row can have.
GRADED = "graded"
TIMED_OUT = "timed out"
OUT_OF_MEMORY = "out of memory"
CRASHED = "crashed"
INVALID = "invalid submission"


@dataclasses.dataclass
class BatchConfig:
    submissions: Path  # one folder or .zip per student
    out: Path
    jobs: int = 1
    assignments: tuple[str, ...] = ()  # grade only these (default: what each submission holds)
    timeout_s: float = 3600.0  # wall-clock limit for one student's whole grading
    memory_gib: float = 16.0  # resident memory of one grading process and everything it started
    regrade: bool = False
    only: tuple[str, ...] = ()  # grade just these students again
    tests_root: Path | None = None  # default: grader/ (the demo assignment's tests use their own)
    specs_root: Path | None = None  # default: specs/
    max_unzipped_mib: float = 2048.0  # a zip may unpack to at most this much
    max_zip_members: int = 10_000
    progress: bool = True

    @property
    def specs(self) -> Path:
        return Path(self.specs_root or ROOT / "specs")

    def known_assignments(self) -> list[str]:
        return sorted(p.parent.name for p in self.specs.glob("*/rubric.toml"))


# ---------------------------------------------------------------------------------------
# The class: who is in it
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Student:
    id: str  # the name the instructor gave the entry, without .zip
    source: Path  # the folder or zip
    slug: str  # the folder name of the student's reports: id with only safe characters


def find_students(submissions: Path) -> list[Student]:
    """Every visible entry of SUBMISSIONS is a student (an entry that is no folder or .zip becomes an invalid row)."""
    students, slugs, ids = [], set(), set()
    for entry in sorted(Path(submissions).iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        student_id = entry.name[:-4] if entry.name.lower().endswith(".zip") else entry.name
        if student_id in ids:  # both "ada/" and "ada.zip": the zip keeps its full name
            student_id = entry.name
        ids.add(student_id)
        slug = re.sub(r"[^A-Za-z0-9._-]", "_", student_id).strip(".") or "student"
        base, n = slug, 2
        while slug in slugs:  # "ada" and "ada.zip", or names that differ only in odd characters
            slug, n = f"{base}-{n}", n + 1
        slugs.add(slug)
        students.append(Student(student_id, entry, slug))
    return students


class InvalidSubmission(Exception):
    """The submission cannot be graded at all; str() says why, for the student and the instructor."""


def fingerprint(source: Path) -> str:
    """A hash of the submission's contents: a rerun regrades a student whose submission changed."""
    digest = hashlib.sha256()
    if source.is_file() or source.is_symlink():
        digest.update(os.readlink(source).encode() if source.is_symlink() else b"")
        if source.is_file() and not source.is_symlink():
            with open(source, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git"))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            digest.update(str(path.relative_to(source)).encode() + b"\0")
            if path.is_symlink():
                digest.update(b"link:" + os.readlink(path).encode())
            elif path.is_file():
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
    return digest.hexdigest()


def safe_unzip(archive: Path, dest: Path, max_bytes: int, max_members: int) -> None:
    """Unpack a student's zip, refusing anything that could write outside `dest` or fill the disk.

    Refused: absolute paths and `..` parts, symbolic links, encrypted members, more than
    max_members entries, more than max_bytes unpacked (counted as bytes are written, not taken
    from the zip's headers, which a crafted zip can understate).
    """
    try:
        with zipfile.ZipFile(archive) as z:
            members = z.infolist()
            if len(members) > max_members:
                raise InvalidSubmission(f"the zip holds {len(members)} entries; at most {max_members} are accepted")
            written = 0
            for info in members:
                name = info.filename.replace("\\", "/")
                parts = [p for p in name.split("/") if p not in ("", ".")]
                if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                    raise InvalidSubmission(f"the zip holds an entry with an unsafe path: {name!r}")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise InvalidSubmission(f"the zip holds a symbolic link ({name!r}); submit plain files")
                if info.flag_bits & 0x1:
                    raise InvalidSubmission(f"the zip entry {name!r} is encrypted")
                if not parts or parts[0] == "__MACOSX":
                    continue
                target = dest.joinpath(*parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(target, "wb") as out:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        written += len(block)
                        if written > max_bytes:
                            raise InvalidSubmission(f"the zip unpacks to more than {max_bytes / MiB:g} MiB")
                        out.write(block)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise InvalidSubmission(f"the file is not a readable zip archive ({exc})") from None
    except (OSError, ValueError) as exc:  # a bad CRC (BadZipFile) or an unwritable name
        raise InvalidSubmission(f"the zip could not be unpacked ({exc})") from None


def submission_root(folder: Path, known: list[str], assignments: tuple[str, ...]) -> Path:
    """The folder to grade: `folder`, or the single folder it wraps (zips often hold `ada/ml_qa/...`)."""
    current = folder
    for _ in range(3):
        holds = any((current / a).is_dir() for a in known)
        own_folder = (current / "adapters.py").is_file() or (current / "answers.toml").is_file()
        if holds or (own_folder and assignments):
            return current
        entries = [e for e in current.iterdir() if not e.name.startswith(".") and e.name != "__MACOSX"]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            break
        current = entries[0]
    if assignments:
        return folder  # every named assignment is graded; a missing folder scores 0 and says so
    raise InvalidSubmission(f"the submission holds no assignment folder (expected one of: {', '.join(known)})")


# ---------------------------------------------------------------------------------------
# One student's grading, watched from outside
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Record:
    """batch.json: what happened when this student was last graded."""

    student: str
    slug: str
    status: str
    seconds: float
    message: str  # why the status is not "graded"; empty when it is
    fingerprint: str
    graded_at: str = ""

    def save(self, folder: Path) -> None:
        (folder / "batch.json").write_text(json.dumps(dataclasses.asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "Record | None":
        try:
            data = json.loads((folder / "batch.json").read_text())
            return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})
        except (OSError, ValueError, TypeError, KeyError):
            return None


def _process_table() -> dict[int, int]:
    """pid -> parent pid, for every process on the machine."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat_line = f.read()
                parents[int(entry)] = int(stat_line[stat_line.rfind(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return parents


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it (the sandbox's workers start their own sessions,
    so the process group alone would miss them)."""
    children: dict[int, list[int]] = {}
    for pid, parent in _process_table().items():
        children.setdefault(parent, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def kill_tree(root: int) -> None:
    """Kill a grading process and everything it started, then remove the sandbox folders and
    cgroups that the killed grader had no chance to clean up."""
    leftovers = set()
    tree = process_tree(root)
    for pid in tree:  # freeze first, so nothing forks or respawns while we kill
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
    tree = sorted(set(tree) | set(process_tree(root)))
    for pid in tree:
        try:
            # A sandbox worker runs ROOT/runtime/worker.py (grader.sandbox.client.Sandbox); its
            # command line is readable even where its cwd is not (it runs as another uid).
            for arg in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0"):
                root = Path(arg).parent.parent
                if arg.endswith("/runtime/worker.py") and root.parent == Path(tempfile.gettempdir()) and root.name.startswith("autograder-"):
                    leftovers.add(root)
            for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
                where = line.split(":", 2)[2]
                if Path(where).name.startswith("autograder-"):
                    leftovers.add(Path("/sys/fs/cgroup") / where.lstrip("/"))
        except (OSError, IndexError):
            pass
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.2)
    for path in leftovers:
        if str(path).startswith("/sys/fs/cgroup"):
            try:
                path.rmdir()
            except OSError:
                pass
        else:
            shutil.rmtree(path, ignore_errors=True)


def run_watched(command: list[str], log_path: Path, timeout_s: float, memory_bytes: int) -> tuple[str, float, str]:
    """Run one grading process; returns (status, seconds, message). Status GRADED means it ended by itself."""
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        peak = 0
        while True:
            try:
                returncode = proc.wait(timeout=0.25)
                return GRADED, time.monotonic() - start, f"exit status {returncode}"
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - start
            if elapsed > timeout_s:
                kill_tree(proc.pid)
                proc.wait()
                return TIMED_OUT, elapsed, f"the grading took longer than the limit of {timeout_s:g} s per student and was stopped"
            used = resident_bytes(process_tree(proc.pid))
            peak = max(peak, used)
            if used > memory_bytes:
                kill_tree(proc.pid)
                proc.wait()
                return (
                    OUT_OF_MEMORY,
                    elapsed,
                    f"the grading used {used / GiB:.2f} GiB of memory, more than the limit of {memory_bytes / GiB:g} GiB "
                    "per student, and was stopped",
                )


def failed_result(name: str, assignments: list[str], specs: Path, why: str) -> GradingResult:
    """The result of a grading that could not finish: every item of the assignments scores 0 and says why."""
    results = []
    for index, assignment in enumerate(assignments, start=1):
        try:
            rubric = load_rubric(specs / assignment / "rubric.toml")
        except RubricError:
            continue
        result = score_assignment(rubric, index, [], name)
        for item in result.items:
            if item.item.kind == "auto":
                item.reason = f"not graded: {first_line(why)}"
        results.append(result)
    return GradingResult(name, results, notes=[f"This submission could not be graded: {why}"])


def assignments_in(folder: Path | None, config: BatchConfig) -> list[str]:
    if config.assignments:
        return list(config.assignments)
    known = config.known_assignments()
    if folder is None:
        return []
    found = [a for a in known if (folder / a).is_dir()]
    return found or ([folder.name] if folder.name in known else [])


def grade_student(student: Student, config: BatchConfig, manual_scores: dict) -> Record:
    """Grade one student from start to finish; every outcome ends as a Record and a set of reports."""
    report_dir = config.out / "students" / student.slug
    report_dir.mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "grading.json"):
        (report_dir / name).unlink(missing_ok=True)
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="autograder-batch-"))
    root = None
    try:
        try:
            submission_fingerprint = fingerprint(student.source)
        except OSError as exc:
            submission_fingerprint = f"unreadable: {exc}"
        try:
            if student.source.is_dir() and not student.source.is_symlink():
                folder = student.source
            elif student.source.is_file() and student.source.name.lower().endswith(".zip"):
                folder = work / "unzipped"
                folder.mkdir()
                safe_unzip(student.source, folder, int(config.max_unzipped_mib * MiB), config.max_zip_members)
            else:
                raise InvalidSubmission("a submission must be a folder or a .zip file")
            root = submission_root(folder, config.known_assignments(), config.assignments)
        except InvalidSubmission as exc:
            return _finish_failed(student, config, report_dir, INVALID, str(exc), start, submission_fingerprint, manual_scores)
        command = grading_command(
            root, report_dir, config.assignments, config.tests_root, config.specs_root, ["-p", "grader.resultfile"]
        )
        status, seconds, message = run_watched(command, report_dir / "grading.log", config.timeout_s, int(config.memory_gib * GiB))
        if status == GRADED and not (report_dir / "grading.json").is_file():
            status = CRASHED
            tail = clean((report_dir / "grading.log").read_text(errors="replace")[-3000:], 3000)
            message = f"the grading process ended without a result ({message}); its last output:\n{tail}"
        if status != GRADED:
            return _finish_failed(student, config, report_dir, status, message, start, submission_fingerprint, manual_scores, root)
        result = load_result(report_dir)
        result.submission = student.id  # the student's name, not the name of an unpacked folder
        save_result(result, report_dir)
        write_reports(manual.apply(result, manual_scores.get(student.id, {})), report_dir)
        record = Record(student.id, student.slug, GRADED, round(seconds, 2), "", submission_fingerprint, time.strftime("%Y-%m-%d %H:%M:%S"))
        record.save(report_dir)
        return record
    except Exception as exc:  # a bug of the batch itself must still cost only this student's row
        return _finish_failed(student, config, report_dir, CRASHED, f"the batch grader failed: {type(exc).__name__}: {exc}", start, "", manual_scores, root)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _finish_failed(student, config, report_dir, status, message, start, submission_fingerprint, manual_scores, root=None) -> Record:
    result = failed_result(student.id, assignments_in(root, config), config.specs, message)
    result.execution_time = time.monotonic() - start
    save_result(result, report_dir)
    write_reports(manual.apply(result, manual_scores.get(student.id, {})), report_dir)
    record = Record(student.id, student.slug, status, round(time.monotonic() - start, 2), message, submission_fingerprint, time.strftime("%Y-%m-%d %H:%M:%S"))
    record.save(report_dir)
    return record


# ---------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """done / total, elapsed, time left and failures so far: one redrawn line on a terminal,
    one line per finished student otherwise (a log file, CI)."""

    def __init__(self, total: int, stream=sys.stderr, enabled: bool = True):
        self.total = total
        self.done = 0
        self.failures = 0
        self.stream = stream
        self.enabled = enabled and total > 0
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.start = time.monotonic()
        self.running: list[str] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        if self.tty and self.enabled:
            threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self):
        while not self._stop.wait(1.0):
            with self.lock:
                self._draw()

    def _status(self) -> str:
        elapsed = time.monotonic() - self.start
        left = f"~{_clock(elapsed / self.done * (self.total - self.done))}" if self.done else "?"
        return f"{self.done}/{self.total} done, {_clock(elapsed)} elapsed, {left} left, {self.failures} failed"

    def _draw(self):
        width = 24
        filled = int(width * self.done / self.total)
        line = f"[{'#' * filled}{'.' * (width - filled)}] {self._status()}"
        if self.running:
            line += f"  (now: {', '.join(self.running[:3])}{'…' if len(self.running) > 3 else ''})"
        self.stream.write("\r\x1b[2K" + line[:200])
        self.stream.flush()

    def started(self, student: Student):
        with self.lock:
            self.running.append(student.id)
            if self.tty and self.enabled:
                self._draw()

    def finished(self, student: Student, record: Record):
        with self.lock:
            self.running.remove(student.id)
            self.done += 1
            self.failures += record.status != GRADED
            if not self.enabled:
                return
            if self.tty:
                if record.status != GRADED:
                    self.stream.write(f"\r\x1b[2K{student.id}: {record.status}: {first_line(record.message, 120)}\n")
                self._draw()
            else:
                what = record.status if record.status != GRADED else f"graded in {record.seconds:.1f} s"
                self.stream.write(f"[{self._status()}] {student.id}: {what}\n")
                self.stream.flush()

    def close(self):
        self._stop.set()
        if self.tty and self.enabled:
            with self.lock:
                self._draw()
                self.stream.write("\n")
                self.stream.flush()


# ---------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------


def up_to_date(student: Student, config: BatchConfig) -> bool:
    folder = config.out / "students" / student.slug
    record = Record.load(folder)
    if record is None or not (folder / "grading.json").is_file():
        return False
    try:
        return record.fingerprint == fingerprint(student.source)
    except OSError:
        return False


def run_batch(config: BatchConfig) -> list[Student]:
    """Grade every student that needs it, N at a time, then write the class reports. Returns the class."""
    from grader.classreport import write_class_reports  # matplotlib loads only when a batch runs

    config.out.mkdir(parents=True, exist_ok=True)
    students = find_students(config.submissions)
    if config.only:
        unknown = set(config.only) - {s.id for s in students} - {s.slug for s in students}
        if unknown:
            raise ValueError(f"--only: no student named {', '.join(sorted(unknown))} in {config.submissions}")
        todo = [s for s in students if s.id in config.only or s.slug in config.only]
    elif config.regrade:
        todo = students
    else:
        todo = [s for s in students if not up_to_date(s, config)]
    if config.progress and len(todo) < len(students):
        print(f"{len(students) - len(todo)} of {len(students)} students already graded (--regrade grades them again)", file=sys.stderr)
    scores = manual.load_merged(config.out)
    progress = Progress(len(todo), enabled=config.progress)

    def one(student: Student) -> None:
        progress.started(student)
        record = grade_student(student, config, scores)
        progress.finished(student, record)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
        for future in [pool.submit(one, s) for s in todo]:
            future.result()
    progress.close()
    write_class_reports(config.out)
    return students
