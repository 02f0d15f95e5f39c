"""`python -m grader COMMAND ...`: the instructor's commands beyond grading one submission.

    python -m grader batch SUBMISSIONS --out DIR [--jobs N]      grade a class (grader.batch)
    python -m grader merge-manual DIR SCORES.csv                 merge manual-item scores (grader.manual)
    python -m grader gradescope --assignment ID --out FILE.zip   write a Gradescope autograder (grader.gradescope)
    python -m grader gradescope-run [--root DIR]                 what that bundle's run_autograder runs

Grading one submission stays `pytest grader/ --submission PATH`. Each command is one function
below that takes the parsed arguments; a new command adds a parser in build_parser() and one
function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_batch(args) -> int:
    from grader.batch import BatchConfig, run_batch

    if not args.submissions.is_dir():
        print(f"batch: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    config = BatchConfig(
        submissions=args.submissions,
        out=args.out,
        jobs=args.jobs,
        assignments=tuple(args.assignment),
        timeout_s=args.timeout,
        memory_gib=args.memory_gib,
        regrade=args.regrade,
        only=tuple(args.only),
        tests_root=args.tests_root,
        specs_root=args.specs_root,
        max_unzipped_mib=args.max_unzipped_mib,
        progress=not args.quiet,
    )
    try:
        run_batch(config)
    except ValueError as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2
    if args.manual:
        return cmd_merge_manual(argparse.Namespace(out=args.out, scores=args.manual))
    print(f"gradebook: {args.out / 'gradebook.csv'}\nclass page: {args.out / 'class.html'}")
    return 0


def cmd_merge_manual(args) -> int:
    from grader.manual import ManualScoreError, merge

    try:
        updated = merge(args.out, args.scores)
    except ManualScoreError as exc:
        print(f"merge-manual: {exc}", file=sys.stderr)
        return 2
    print(f"merged manual scores for {len(updated)} student(s); gradebook and reports rewritten in {args.out}")
    return 0


def cmd_gradescope(args) -> int:
    from grader.gradescope import write_bundle

    try:
        path = write_bundle(args.out, args.assignment, tests_root=args.tests_root, specs_root=args.specs_root)
    except ValueError as exc:
        print(f"gradescope: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}: upload it as the assignment's autograder (Gradescope: Configure Autograder, zip file upload)")
    return 0


def cmd_gradescope_run(args) -> int:
    from grader.gradescope import run_autograder

    return run_autograder(args.root)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description="Instructor commands of the ML course autograder.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    batch = commands.add_parser("batch", help="grade every submission in a folder (one folder or .zip per student)")
    batch.add_argument("submissions", type=Path, metavar="SUBMISSIONS")
    batch.add_argument("--out", type=Path, required=True, help="where the per-student reports and the class reports go")
    batch.add_argument("--jobs", "-j", type=int, default=1, help="gradings at a time (default 1)")
    batch.add_argument("--assignment", action="append", default=[], metavar="ID", help="grade only this assignment (repeatable)")
    batch.add_argument("--timeout", type=float, default=3600.0, metavar="S", help="wall-clock limit per student, seconds (default 3600)")
    batch.add_argument("--memory-gib", type=float, default=16.0, help="memory limit per student's grading, GiB (default 16)")
    batch.add_argument("--regrade", action="store_true", help="grade every student again (default: skip those already graded)")
    batch.add_argument("--only", action="append", default=[], metavar="STUDENT", help="grade this student again (repeatable)")
    batch.add_argument("--manual", type=Path, metavar="CSV", help="then merge this CSV of manual-item scores (see merge-manual)")
    batch.add_argument("--max-unzipped-mib", type=float, default=2048.0, help="largest a .zip may unpack to (default 2048)")
    batch.add_argument("--tests-root", type=Path, help=argparse.SUPPRESS)  # another assignment tree (the demo's)
    batch.add_argument("--specs-root", type=Path, help=argparse.SUPPRESS)
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    batch.set_defaults(run=cmd_batch)

    merge = commands.add_parser("merge-manual", help="merge a CSV of manual-item scores into a batch's gradebook and reports")
    merge.add_argument("out", type=Path, metavar="DIR", help="the batch's --out folder")
    merge.add_argument("scores", type=Path, metavar="SCORES.csv", help="columns: student, then assignment:item (and 'assignment:item comment')")
    merge.set_defaults(run=cmd_merge_manual)

    gradescope = commands.add_parser("gradescope", help="write a Gradescope autograder bundle (.zip)")
    gradescope.add_argument("--assignment", action="append", required=True, metavar="ID", help="an assignment to grade (repeatable)")
    gradescope.add_argument("--out", type=Path, required=True, metavar="FILE.zip")
    gradescope.add_argument("--tests-root", type=Path, help=argparse.SUPPRESS)
    gradescope.add_argument("--specs-root", type=Path, help=argparse.SUPPRESS)
    gradescope.set_defaults(run=cmd_gradescope)

    run = commands.add_parser("gradescope-run", help="grade /autograder/submission into /autograder/results (inside the bundle)")
    run.add_argument("--root", type=Path, default=None, help="the /autograder folder (default: $AUTOGRADER_ROOT or /autograder)")
    run.set_defaults(run=cmd_gradescope_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
