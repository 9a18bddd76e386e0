"""Roles, confirmations and the audit log."""
