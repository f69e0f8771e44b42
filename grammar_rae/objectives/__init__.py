"""Objectives: scores of strings (molecules and expressions), vectorised and safe on invalid input."""
