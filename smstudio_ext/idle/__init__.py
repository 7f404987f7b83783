"""Idle auto-shutdown: activity signals -> idle decision -> shutdown action (issue 3)."""
