"""Layer 3: forecasts from draws (forward simulation, cumulative incidence, the prior predictive)."""
