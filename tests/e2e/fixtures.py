"""Slack end-to-end fixtures (filled by the Slack issue): `slack_sim`, `slack_driver`."""
