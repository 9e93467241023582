"""Shared test configuration: the suite runs in float64 (set here, never by the library)."""

import jax

jax.config.update("jax_enable_x64", True)
