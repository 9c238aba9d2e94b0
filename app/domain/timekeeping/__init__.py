"""Time: the official working-day calendar, step time limits (`deadlines`) and the test-mode service
clock."""
