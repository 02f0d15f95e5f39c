"""Grader tests for the bias-variance and distributed-SGD assignment; the contract is specs/bias_variance_sgd/adapters.py."""
