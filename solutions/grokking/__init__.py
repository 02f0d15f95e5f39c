"""Reference solution of the transformers-and-grokking assignment (see README in this folder's REPORT.md)."""
