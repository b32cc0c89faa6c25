"""evaluation stage of mer-keras."""
