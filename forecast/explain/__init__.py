"""Layer 5: explaining a run (what moved, the counterfactual refit, signposts, model checks)."""
