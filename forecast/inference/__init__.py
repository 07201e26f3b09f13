"""Layer 4: sampling and its checks (the fit, NUTS, convergence, diagnostics, importance weights)."""
