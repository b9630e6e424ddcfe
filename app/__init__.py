"""Ponte: employer–candidate matching for job-integration programmes."""

__version__ = "0.1.0"
