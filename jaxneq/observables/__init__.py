"""jaxneq.observables (units: k_B = 1)."""
