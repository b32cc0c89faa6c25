"""training stage of mer-keras."""
