"""preprocessing stage of mer-keras."""
