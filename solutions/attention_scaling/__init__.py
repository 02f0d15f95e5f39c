"""Reference solution of the attention-and-scaling-laws assignment (see REPORT.md in this folder)."""
