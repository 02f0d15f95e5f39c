# The grading plugin: adds --submission/--assignment/--report-dir and stays inert unless the run
# collects tests from grader/. See grader/plugin.py.
pytest_plugins = ["grader.plugin"]
