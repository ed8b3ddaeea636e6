"""Per contributor-month storage of the private (normalized) layer, and its invariants."""
