"""Grader tests for ml_qa: Q/A 1-5 of gpt2-and-ml-qa.md, answered in answers.toml."""
