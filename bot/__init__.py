"""Chegou Hub: the Slack-first operations hub."""
