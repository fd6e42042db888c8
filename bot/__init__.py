"""Grounded answers over the corpus: retrieval, answer composition, safety."""
