"""Public notices (公示) and objections (异议): notice entries, objections, and what a notice may show
(`publication`, masking of names)."""
