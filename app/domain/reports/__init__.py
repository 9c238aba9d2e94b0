"""Reports (issue 21): figures per place, program and month, kept current by case changes."""
