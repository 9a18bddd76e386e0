"""Offline sandbox: the Slack simulator, demo orchestration and console."""
