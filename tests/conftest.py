import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo_assignment"

# The project's own property tests explore randomly during development; CI pins the seed.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def demo_package(tmp_path):
    """Write a one-file submission package `demo` and return its folder."""

    def make(source: str, name: str = "demo") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "adapters.py").write_text(source)
        return folder

    return make


def pytest_addoption(parser):
    parser.addoption(
        "--full-variants", action="store_true", default=False,
        help="grade each fixture variant (fixtures/*_variants) on its whole assignment, not only the part its edit can reach",
    )
