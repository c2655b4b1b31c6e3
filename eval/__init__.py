"""Evaluation: pure retrieval/answer metrics, benchmark loaders and reports."""
