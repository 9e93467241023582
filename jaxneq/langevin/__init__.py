"""jaxneq.langevin (units: k_B = 1)."""
