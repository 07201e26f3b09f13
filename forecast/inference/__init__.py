"""Layer 4: sampling and its checks (the fit, NUTS, convergence, diagnostics, importance weights), and the
incremental update that reweights a sampled run's draws instead of sampling."""
