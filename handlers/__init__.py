"""Slack listeners and Block Kit views, one module per area."""
