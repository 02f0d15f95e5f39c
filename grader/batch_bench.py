"""How long batch grading takes: seconds per submission serially, and the speed-up with --jobs N.

    python -m grader.batch_bench                      # 8 ml_qa submissions, --jobs 1 then --jobs 2
    python -m grader.batch_bench --copies 12 --jobs 1 2 --demo

Builds a class by copying the fixture submissions (fixtures/submissions/ml_qa_*, or with --demo the
demo assignment's good/liar/template ones), grades it once per --jobs value into fresh folders,
side by side in one run, and prints one table row per run with the machine's load average before
and after it (other people's work on the machine slows every run; compare rows of one run only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from grader.batch import BatchConfig, run_batch
from grader.run import ROOT

DEMO = ROOT / "fixtures" / "demo_assignment"


def make_class(folder: Path, copies: int, demo: bool) -> None:
    if demo:
        sources = [DEMO / "submissions" / name for name in ("good", "liar", "template")]
    else:
        sources = sorted(p.parent for p in (ROOT / "fixtures" / "submissions").glob("ml_qa_*/expected.toml"))
    for n in range(copies):
        source = sources[n % len(sources)]
        shutil.copytree(source, folder / f"student{n:03d}_{source.name}", ignore=shutil.ignore_patterns("expected.toml", "__pycache__"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=8, help="students in the class (default 8)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="the --jobs values to time (default 1 2)")
    parser.add_argument("--demo", action="store_true", help="grade the tiny demo assignment instead of ml_qa")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        submissions = work / "class"
        submissions.mkdir()
        make_class(submissions, args.copies, args.demo)
        roots = dict(tests_root=DEMO / "grader", specs_root=DEMO / "specs") if args.demo else {}
        print(f"{'demo' if args.demo else 'ml_qa'}: {args.copies} submissions, {os.cpu_count()} CPUs")
        print(f"{'jobs':>4}  {'wall s':>7}  {'s / submission':>14}  {'speed-up':>8}  load before -> after")
        first = None
        for jobs in args.jobs:
            load_before = os.getloadavg()[0]
            start = time.monotonic()
            run_batch(BatchConfig(submissions, work / f"out-jobs{jobs}", jobs=jobs, progress=False, **roots))
            wall = time.monotonic() - start
            first = first or wall
            print(f"{jobs:>4}  {wall:>7.1f}  {wall / args.copies:>14.2f}  {first / wall:>7.2f}x  {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
