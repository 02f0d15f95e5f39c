"""grader/cache.py: grader-made inputs are built once, kept read-only, and never seen half-built."""

from pathlib import Path

import pytest

from grader.cache import built_once


def counting_build(calls: list):
    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "weights.bin").write_bytes(b"\x00" * 16)
    return build


def test_a_folder_is_built_once_and_then_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    first = built_once("thing-v1", counting_build(calls), tmp_path / "unused")
    second = built_once("thing-v1", counting_build(calls), tmp_path / "unused")
    assert first == second == tmp_path / "cache" / "thing-v1"
    assert len(calls) == 1, "the second grading rebuilt what the first had kept"
    assert (first / "weights.bin").read_bytes() == b"\x00" * 16


def test_cached_files_are_read_only(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(tmp_path / "cache"))
    folder = built_once("thing-v1", counting_build([]), tmp_path / "unused")
    assert not (folder / "weights.bin").stat().st_mode & 0o222
    assert not folder.stat().st_mode & 0o222


def test_a_build_that_was_cut_short_is_redone(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(tmp_path / "cache"))
    half = tmp_path / "cache" / "thing-v1"
    half.mkdir(parents=True)
    (half / "weights.bin").write_bytes(b"half")  # no .complete marker
    calls = []
    folder = built_once("thing-v1", counting_build(calls), tmp_path / "unused")
    assert len(calls) == 1 and (folder / "weights.bin").read_bytes() == b"\x00" * 16


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(tmp_path / "cache"))

    def failing(folder: Path) -> None:
        (folder / "partial").write_text("x")
        raise RuntimeError("out of disk")

    with pytest.raises(RuntimeError):
        built_once("thing-v1", failing, tmp_path / "unused")
    assert list((tmp_path / "cache").iterdir()) == []


def test_caching_off_builds_in_the_callers_folder_each_time(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", "off")
    calls = []
    for n in range(2):
        (tmp_path / str(n)).mkdir()
        assert built_once("thing-v1", counting_build(calls), tmp_path / str(n)) == tmp_path / str(n)
    assert len(calls) == 2


def test_an_unwritable_cache_falls_back_to_the_callers_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("AUTOGRADER_CACHE_DIR", str(blocker / "cache"))
    (tmp_path / "fresh").mkdir()
    assert built_once("thing-v1", counting_build([]), tmp_path / "fresh") == tmp_path / "fresh"
