r"""Rattling: a local measure of how much a system jiggles, and the law $p \approx e^{-\gamma R}/Z$.

Units: k_B = 1. Rattling (Chvykov et al. 2021) proposes that the steady state of a
"typical" driven system is approximately $p_{ss}(x) \approx e^{-\gamma\mathcal R(x)}/Z$, with
$\mathcal R(x)$ a local measure of the noise at $x$: $\tfrac12\log\det D(x)$ for a diffusion,
the log exit rate for a jump process. The approximation is uncontrolled (Landauer's
blowtorch is the adversarial counter-example), so this package measures it as well as it
uses it:

- `from_diffusion(D, kind=...)`: $\mathcal R = \tfrac12\log\det D$ (scalar, diagonal, full).
- `from_rates(rates)`: $\mathcal R_i = \log\lambda_i$ (dense or `EdgeRates`), and
  `jump_decomposition(rates)`: the exact identity $\log\pi = -\mathcal R + \log\nu - \log Z$
  ($\nu$ the stationary law of the embedded jump chain), which says when $\gamma = 1$.
- `from_trajectories(x, dt, window, edges=...)`: the data-driven windowed-covariance
  estimator, binned next to the sampled density (or, with `points=` and `neighbours=k`,
  averaged over the k nearest windows of query points, with a k-NN density).
- `fit_gamma(p, R, weights=None, counts=None)`: $\gamma$, $\log Z$, standard error,
  $R^2$ and KL divergence; differentiable and vmappable.

Where things live: `_diffusion` (`from_diffusion`), `_rates` (`from_rates`,
`jump_decomposition`), `_trajectories` (`from_trajectories`, `RattlingField`,
`RattlingNeighbours`), `_fit` (`fit_gamma`, `GammaFit`), `_checks` (argument checks).

Reference: P. Chvykov, T. A. Berrueta, A. Vardhan, W. Savoie, A. Samland, T. D. Murphey,
K. Wiesenfeld, D. I. Goldman and J. L. England, "Low rattling: a predictive principle for
self-organization in active collectives", Science 371, 90 (2021).
"""

from ._diffusion import from_diffusion as from_diffusion
from ._fit import GammaFit as GammaFit, fit_gamma as fit_gamma
from ._rates import (
    JumpDecomposition as JumpDecomposition,
    from_rates as from_rates,
    jump_decomposition as jump_decomposition,
)
from ._trajectories import (
    RattlingField as RattlingField,
    RattlingNeighbours as RattlingNeighbours,
    from_trajectories as from_trajectories,
)
