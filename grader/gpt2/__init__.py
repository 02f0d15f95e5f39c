"""Grader tests for the GPT-2 assignment (tasks 1 and 2); the contract is specs/gpt2/adapters.py."""
