"""The HTTP layer: routes, authentication, problem documents. Nothing below imports it."""
