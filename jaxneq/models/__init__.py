"""jaxneq.models (units: k_B = 1)."""
