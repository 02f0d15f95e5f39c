"""Reference answers for Q/A 1-5 of gpt2-and-ml-qa.md (answers.toml; the reasoning in README.md)."""
