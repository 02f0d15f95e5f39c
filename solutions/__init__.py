"""Reference solutions, laid out exactly like a student submission (one folder per assignment)."""
