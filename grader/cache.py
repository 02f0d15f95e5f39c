"""Grader-made inputs that are the same for every submission, built once and kept between gradings.

GPT-2 small's reference checkpoint (124M seeded random parameters saved with save_pretrained, and
Hugging Face's outputs on it) takes 7-12 s to build, the same for every student: a class of 100
would rebuild it 100 times. It is kept under AUTOGRADER_CACHE_DIR (default
$XDG_CACHE_HOME/autograder, i.e. ~/.cache/autograder), in a folder whose name holds everything
that could change its contents (the seed and the torch and transformers versions).

A folder is built in a temporary sibling and renamed into place, so parallel gradings (batch
--jobs N) never see half of one, and made read-only: the sandbox hard-links these files into a
worker's inputs, which Landlock (or the sandbox's own uid) keeps the worker from writing. Delete
the folder to rebuild it; `AUTOGRADER_CACHE_DIR=off` builds it afresh for every grading, in
that grading's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

COMPLETE = ".complete"  # written last: a folder without it is a build that was cut short


def cache_root() -> Path | None:
    """Where cached inputs live, or None when caching is off."""
    setting = os.environ.get("AUTOGRADER_CACHE_DIR")
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "autograder"


def built_once(name: str, build: Callable[[Path], None], uncached: Path) -> Path:
    """The folder `name` in the cache, calling build(folder) to fill it the first time; with
    caching off, build(uncached) (an empty folder the caller cleans up) every time."""
    root = cache_root()
    if root is None:
        build(uncached)
        return uncached
    folder = root / name
    if (folder / COMPLETE).is_file():
        return folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    except OSError:  # a read-only home (a container): grade without the cache
        build(uncached)
        return uncached
    try:
        build(staging)
        (staging / COMPLETE).touch()
        _make_read_only(staging)
        if folder.exists() and not (folder / COMPLETE).is_file():
            _remove(folder)  # an earlier build that was interrupted before it was renamed
        try:
            staging.rename(folder)
        except OSError:  # another grading renamed its own build into place first: use that one
            if not (folder / COMPLETE).is_file():
                raise
    finally:
        if staging.exists():
            _remove(staging)
    return folder


def _make_read_only(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        mode = path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        path.chmod(mode)


def _remove(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        if path.is_dir():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(folder)
