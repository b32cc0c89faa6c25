"""models/layers stage of mer-keras."""
