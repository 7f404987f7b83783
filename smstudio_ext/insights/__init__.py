"""Tags, costs and guardrail checks for one profile/space or a whole domain (issue 5)."""
