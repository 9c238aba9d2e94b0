"""AidFlow: multi-level approval workflows for social assistance and student aid."""
