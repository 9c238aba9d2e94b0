"""Deployed process definitions and what a program declares: forms, eligibility rules, settings per
place, and pilots (`rollouts`)."""
