"""How long batch grading takes: seconds per submission serially, and the speed-up with --jobs N.

    python -m grader.batch_bench                      # 8 ml_qa submissions, --jobs 1 then --jobs 2
    python -m grader.batch_bench --copies 12 --jobs 1 2 --demo

Builds a class by copying the fixture submissions (fixtures/submissions/ml_qa_*, or with --demo the
demo assignment's good/liar/template ones), grades one student untimed (the first grading of a
session reads and compiles the grader from disk, which would be charged to whichever run came
first), then grades the class once per --jobs value into fresh folders, side by side, --rounds
times interleaved (1, 2, 1, 2, ...). It prints one row per run with the machine's load average
before and after it, and the median per --jobs value (other people's work on the machine slows
every run; compare rows of one run only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
    parser.add_argument("--rounds", type=int, default=2, help="times each --jobs value is timed, interleaved (default 2)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        submissions = work / "class"
        submissions.mkdir()
        make_class(submissions, args.copies, args.demo)
        roots = dict(tests_root=DEMO / "grader", specs_root=DEMO / "specs") if args.demo else {}
        print(f"{'demo' if args.demo else 'ml_qa'}: {args.copies} submissions, {os.cpu_count()} CPUs")
        warm = work / "warm-up"
        warm.mkdir()
        shutil.copytree(next(submissions.iterdir()), warm / "student")
        run_batch(BatchConfig(warm, work / "out-warm-up", jobs=1, progress=False, **roots))
        print(f"{'jobs':>4}  {'wall s':>7}  {'s / submission':>14}  load before -> after")
        walls: dict[int, list[float]] = {jobs: [] for jobs in args.jobs}
        for round_ in range(args.rounds):
            for jobs in args.jobs:
                load_before = os.getloadavg()[0]
                start = time.monotonic()
                run_batch(BatchConfig(submissions, work / f"out-{round_}-jobs{jobs}", jobs=jobs, progress=False, **roots))
                wall = time.monotonic() - start
                walls[jobs].append(wall)
                print(f"{jobs:>4}  {wall:>7.1f}  {wall / args.copies:>14.2f}  {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
        medians = {jobs: statistics.median(times) for jobs, times in walls.items()}
        base = medians[args.jobs[0]]
        print(f"median over {args.rounds} rounds:")
        for jobs, wall in medians.items():
            print(f"{jobs:>4}  {wall:>7.1f}  {wall / args.copies:>14.2f}  speed-up {base / wall:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
