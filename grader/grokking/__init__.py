"""Grader tests for the transformers-and-grokking assignment; the contract is specs/grokking/adapters.py."""
