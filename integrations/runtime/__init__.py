"""Shared client machinery: the only way out to external APIs."""
