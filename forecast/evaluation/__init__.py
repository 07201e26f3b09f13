"""Layer 7b: judging forecasts (backtests, crowd comparison, scoring, calibration, simulated logs, priors check)."""
