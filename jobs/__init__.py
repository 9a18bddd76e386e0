"""Scheduled jobs, alert rules, job runs and dead letters."""
