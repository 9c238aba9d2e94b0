"""People and places: accounts, grants and keys, places (行政区划) and their routing rule, the calling
principal, browser sessions, shared rate limits and resident identity numbers."""
