"""Floor 0: the plain types and settings every layer shares (imports nothing of ours)."""
