"""Batch grading: a class of submissions graded N at a time, the gradebook, the class page, resuming,
manual scores, and one student's runaway grading stopped without stopping the class.

The class is made of the cheap fixture submissions (the demo assignment's, a few ml_qa ones), each
copied several times, as folders and as zips. Every grading is real: `pytest grader/ --submission`
in its own process, student code in the sandbox.
"""

import base64
import csv
import html.parser
import io
import json
import os
import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader.__main__ import main
from grader.batch import InvalidSubmission, safe_unzip
from grader.run import grade

from .conftest import DEMO, ROOT

DEMO_ROOTS = ["--tests-root", str(DEMO / "grader"), "--specs-root", str(DEMO / "specs")]
BATCH_FIXTURES = ROOT / "fixtures" / "submissions" / "batch"

# demo fixture -> copies in the class (20 graded students), plus two that cannot be graded
CLASS = {"good": 4, "liar": 2, "template": 2, "exits": 2, "sysexit": 2, "syntax_error": 2, "imports_grader": 2,
         "monkeypatch": 1, "missing": 1, "hangs": 1, "memory_bomb": 1}


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> None:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.name != "expected.toml":
                z.write(path, prefix + path.relative_to(folder).as_posix())


def read_gradebook(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def expected_demo(fixture: str) -> dict:
    return tomllib.loads((DEMO / "submissions" / fixture / "expected.toml").read_text())["demo"]


@pytest.fixture(scope="module")
def demo_class(tmp_path_factory):
    """A class of 22 graded with --jobs 2: fixture -> list of student names, and the output folder."""
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    submissions.mkdir()
    students: dict[str, list[str]] = {}
    for fixture, copies in CLASS.items():
        for n in range(copies):
            name = f"{fixture}_{n}"
            source = DEMO / "submissions" / fixture
            if fixture == "good" and n == 1:
                zip_folder(source, submissions / f"{name}.zip")  # demo/adapters.py at the zip's root
            elif fixture == "good" and n == 2:
                zip_folder(source, submissions / f"{name}.zip", prefix=f"{name}/")  # wrapped in a folder
            else:
                shutil.copytree(source, submissions / name, ignore=shutil.ignore_patterns("expected.toml", "__pycache__"))
            students.setdefault(fixture, []).append(name)
    with zipfile.ZipFile(submissions / "sneaky.zip", "w") as z:
        z.writestr("../../outside.txt", "a zip entry that climbs out of its folder")
    (submissions / "notes.txt").write_text("not a submission")
    out = root / "out"
    status = main(["batch", str(submissions), "--out", str(out), "--jobs", "2", "--assignment", "demo", "--quiet", *DEMO_ROOTS])
    assert status == 0
    return students, submissions, out


def test_every_student_gets_the_reports_of_a_single_grading(demo_class):
    students, _, out = demo_class
    names = [n for group in students.values() for n in group] + ["sneaky", "notes.txt"]
    assert len(names) == 22
    for name in names:
        folder = out / "students" / name
        assert {"results.json", "report.md", "report.html", "junit.xml", "batch.json"} <= {p.name for p in folder.iterdir()}, name
    assert (out / "gradebook.csv").is_file() and (out / "class.html").is_file()
    assert not (out.parent / "outside.txt").exists() and not (out.parent.parent / "outside.txt").exists()


def test_the_gradebook_agrees_with_single_gradings(demo_class, tmp_path):
    students, submissions, out = demo_class
    book = read_gradebook(out)
    assert len(book) == 22
    for fixture, names in students.items():
        want = expected_demo(fixture)
        for name in names:
            row = book[name]
            assert row["status"] == "graded", (name, row["why"])
            assert float(row["auto_score"]) == pytest.approx(want["score"]), name
            for item, points in want["items"].items():
                cell = row[f"demo:{item}"]
                if item == "essay":
                    assert cell == ""  # manual, pending
                else:
                    assert float(cell) == pytest.approx(points), (name, item)
    # and item by item against grader.run.grade() on the same submission, outside any batch
    for name in ("liar_0", "good_2"):
        source = submissions / name if (submissions / name).is_dir() else submissions / f"{name}.zip"
        if source.suffix == ".zip":
            shutil.unpack_archive(source, tmp_path / name)
            source = tmp_path / name / name
        single = grade(source, tmp_path / "single" / name, assignments=["demo"], tests_root=DEMO / "grader", specs_root=DEMO / "specs").results
        batch = json.loads((out / "students" / name / "results.json").read_text())
        assert [(t["name"], t["score"], t["output"]) for t in batch["tests"]] == [(t["name"], t["score"], t["output"]) for t in single["tests"]]


def test_rows_say_why_they_scored_what_they_scored(demo_class):
    _, _, out = demo_class
    book = read_gradebook(out)
    assert book["hangs_0"]["status"] == "graded" and "did not finish within its time limit of 5 s" in book["hangs_0"]["why"]
    # the sandbox stops the bomb at its memory limit (on a very busy machine its call time limit can come first)
    bomb = book["memory_bomb_0"]
    assert bomb["status"] == "graded" and bomb["demo:softmax"] == "0" and "demo:softmax: adapters.softmax()" in bomb["why"]
    assert "GiB" in bomb["why"] or "time limit" in bomb["why"]
    assert book["sneaky"]["status"] == "invalid submission" and "unsafe path" in book["sneaky"]["why"]
    assert book["notes.txt"]["status"] == "invalid submission" and "folder or a .zip" in book["notes.txt"]["why"]
    invalid = json.loads((out / "students" / "sneaky" / "results.json").read_text())
    assert invalid["score"] == 0 and "unsafe path" in invalid["output"]


def test_the_class_page_is_self_contained(demo_class):
    _, _, out = demo_class
    page = (out / "class.html").read_text()

    class Parser(html.parser.HTMLParser):
        images, links, headings, rows = [], [], [], 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "img":
                self.images.append(attrs["src"])
            if tag == "a":
                self.links.append(attrs["href"])
            if tag == "tr":
                Parser.rows += 1

    parser = Parser()
    parser.feed(page)
    assert len(parser.images) == 2  # histogram, per-item pass rates
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for heading in ("Score distribution", "Per-item pass rates", "Slowest submissions", "Needs a person", "Gradebook"):
        assert heading in page
    assert all((out / link).is_file() for link in parser.links)
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_a_rerun_skips_graded_students_and_only_regrades_one(demo_class):
    students, submissions, out = demo_class
    before = {p.parent.name: p.read_text() for p in (out / "students").glob("*/batch.json")}
    assert main(["batch", str(submissions), "--out", str(out), "--assignment", "demo", "--quiet", *DEMO_ROOTS]) == 0
    assert {p.parent.name: p.read_text() for p in (out / "students").glob("*/batch.json")} == before
    assert main(["batch", str(submissions), "--out", str(out), "--assignment", "demo", "--quiet", "--only", "liar_1", *DEMO_ROOTS]) == 0
    after = {p.parent.name: p.read_text() for p in (out / "students").glob("*/batch.json")}
    assert [name for name in after if after[name] != before[name]] == ["liar_1"]


def test_manual_scores_merge_into_the_gradebook_and_reports(demo_class, tmp_path):
    _, _, out = demo_class
    scores = tmp_path / "manual.csv"
    scores.write_text('student,demo:essay,demo:essay comment\ngood_0,0.5,"=HYPERLINK(""x"") needs the overflow argument"\nliar_0,1,\n')
    assert main(["merge-manual", str(out), str(scores)]) == 0
    book = read_gradebook(out)
    assert book["good_0"]["demo:essay"] == "0.5" and book["good_0"]["total"] == "4.5" and book["good_0"]["manual_pending"] == "0"
    assert book["liar_0"]["total"] == "1" and book["good_1"]["demo:essay"] == ""
    results = json.loads((out / "students" / "good_0" / "results.json").read_text())
    essay = next(t for t in results["tests"] if t["name"].endswith("[demo:essay]"))
    assert essay["score"] == 0.5 and "needs the overflow argument" in essay["output"]
    assert results["score"] == 4.5
    assert "a person gave 0.5 / 1 point" in (out / "students" / "good_0" / "report.md").read_text()
    # a regrade keeps the person's score
    submissions = demo_class[1]
    assert main(["batch", str(submissions), "--out", str(out), "--assignment", "demo", "--quiet", "--only", "good_0", *DEMO_ROOTS]) == 0
    assert read_gradebook(out)["good_0"]["total"] == "4.5"


def test_manual_scores_that_do_not_fit_are_refused(demo_class, tmp_path, capsys):
    _, _, out = demo_class
    scores = tmp_path / "bad.csv"
    scores.write_text("student,demo:essay,demo:add\nnobody,1,1\ngood_0,7,\n")
    assert main(["merge-manual", str(out), str(scores)]) == 2
    message = capsys.readouterr().err
    assert "'demo:add' is not a manual item" in message and "no graded student named 'nobody'" in message
    assert "7 is outside 0 to 1" in message


def test_a_hung_grading_is_stopped_at_the_per_student_limit(tmp_path):
    # (the class going on around a hang is test_rows_say_why_they_scored_what_they_scored's case)
    submissions = tmp_path / "class"
    shutil.copytree(DEMO / "submissions" / "hangs", submissions / "hangs")
    out = tmp_path / "out"
    # 2.5 s per student: less than the demo's 5 s per call, so the batch's own limit acts first
    assert main(["batch", str(submissions), "--out", str(out), "--timeout", "2.5", "--quiet", *DEMO_ROOTS]) == 0
    row = read_gradebook(out)["hangs"]
    assert row["status"] == "timed out" and "longer than the limit of 2.5 s" in row["why"] and row["total"] == "0"
    results = json.loads((out / "students" / "hangs" / "results.json").read_text())
    assert "could not be graded" in results["output"]


def test_a_grading_that_eats_memory_is_stopped(tmp_path):
    submissions = tmp_path / "class"
    shutil.copytree(BATCH_FIXTURES / "hoards_memory", submissions / "hoards_memory")
    out = tmp_path / "out"
    # 0.7 GiB for the whole grading: below the demo sandbox's 1 GiB, so the batch's own guard acts first
    assert main(["batch", str(submissions), "--out", str(out), "--memory-gib", "0.7", "--quiet", *DEMO_ROOTS]) == 0
    row = read_gradebook(out)["hoards_memory"]
    assert row["status"] == "out of memory" and "more than the limit of 0.7 GiB per student" in row["why"]
    results = json.loads((out / "students" / "hoards_memory" / "results.json").read_text())
    assert results["score"] == 0 and "0.7 GiB" in results["output"]


def test_a_crashed_grading_is_a_row(tmp_path):
    broken = tmp_path / "broken"  # a grader whose rubric and tests disagree: pytest stops before grading
    shutil.copytree(DEMO / "grader", broken / "grader")
    shutil.copytree(DEMO / "specs", broken / "specs")
    rubric = broken / "specs" / "demo" / "rubric.toml"
    rubric.write_text(rubric.read_text().replace("total = 5", "total = 6"))
    submissions = tmp_path / "class"
    shutil.copytree(DEMO / "submissions" / "good", submissions / "good")
    out = tmp_path / "out"
    roots = ["--tests-root", str(broken / "grader"), "--specs-root", str(broken / "specs")]
    assert main(["batch", str(submissions), "--out", str(out), "--quiet", *roots]) == 0
    row = read_gradebook(out)["good"]
    assert row["status"] == "crashed" and "ended without a result" in row["why"]


def test_ml_qa_class(tmp_path):
    """The real ml_qa grader over a small class, zipped and not; scores equal the fixtures' expected ones."""
    fixtures = ROOT / "fixtures" / "submissions"
    submissions = tmp_path / "class"
    submissions.mkdir()
    names = ["ml_qa_some_wrong", "ml_qa_missing_keys"]
    for name in names:
        if name == "ml_qa_missing_keys":
            zip_folder(fixtures / name, submissions / f"{name}.zip")
        else:
            shutil.copytree(fixtures / name, submissions / name, ignore=shutil.ignore_patterns("expected.toml"))
    out = tmp_path / "out"
    assert main(["batch", str(submissions), "--out", str(out), "--jobs", "2", "--quiet"]) == 0
    book = read_gradebook(out)
    for name in names:
        want = tomllib.loads((fixtures / name / "expected.toml").read_text())["ml_qa"]
        assert book[name]["status"] == "graded"
        assert float(book[name]["auto_score"]) == pytest.approx(want["score"], abs=1e-4)
        for item, points in want.get("items", {}).items():
            assert float(book[name][f"ml_qa:{item}"]) == pytest.approx(points, abs=1e-4)


# Unzipping a student's archive ------------------------------------------------------------


def make_zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            z.writestr(info, "/etc/passwd")
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(
    "entries, links, message",
    [
        ({"../evil.py": b"x"}, (), "unsafe path"),
        ({"/abs/evil.py": b"x"}, (), "unsafe path"),
        ({"demo\\..\\..\\evil.py": b"x"}, (), "unsafe path"),
        ({}, ("demo/link",), "symbolic link"),
        ({"demo/big.bin": b"\0" * (3 << 20)}, (), "more than 2 MiB"),  # compresses to a few KB
        ({f"demo/{n}.py": b"" for n in range(30)}, (), "at most 20 are accepted"),
    ],
)
def test_unsafe_zips_are_refused(tmp_path, entries, links, message):
    archive = tmp_path / "s.zip"
    archive.write_bytes(make_zip(entries, links).getvalue())
    with pytest.raises(InvalidSubmission, match=message):
        safe_unzip(archive, tmp_path / "dest", max_bytes=2 << 20, max_members=20)
    assert not (tmp_path / "evil.py").exists()


def test_a_broken_zip_is_refused(tmp_path):
    archive = tmp_path / "s.zip"
    archive.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InvalidSubmission, match="not a readable zip"):
        safe_unzip(archive, tmp_path / "dest", max_bytes=1 << 20, max_members=10)


CHROMIUM = next((shutil.which(name) for name in ("chromium-headless-shell", "chromium", "chromium-browser") if shutil.which(name)), None)


# .ci/run installs Chromium and sets AUTOGRADER_REQUIRE_BROWSER=1, so CI fails rather than skips without it.
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("AUTOGRADER_REQUIRE_BROWSER"),
    reason="needs Chromium (Debian: apt-get install chromium-headless-shell)",
)
def test_the_class_page_renders_in_a_headless_browser(demo_class, tmp_path):
    """Chromium draws the page: the histogram's bars and the tables' header cells are on the screenshot."""
    import subprocess

    from matplotlib.image import imread

    _, _, out = demo_class
    shot = tmp_path / "class.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1800",
               f"--screenshot={shot}", (out / "class.html").as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=True)
    pixels = (imread(shot)[..., :3] * 255).round().astype(int)

    def count(color: str) -> int:
        rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
        return int((abs(pixels - rgb).sum(axis=-1) <= 6).sum())

    assert count("#2da44e") > 2000  # the histogram's bars (and the pass-rate bars of easy items)
    assert count("#cf222e") + count("#d4a72c") > 2000  # pass-rate bars of the hard items (the class is mostly broken)
    assert count("#f6f8fa") > 2000  # table header cells
