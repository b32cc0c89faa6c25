"""models stage of mer-keras."""
