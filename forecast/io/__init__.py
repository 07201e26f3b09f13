"""Layer 1: reading and writing what the user stores (events, priors, the ledger, the workspace, run files)."""
