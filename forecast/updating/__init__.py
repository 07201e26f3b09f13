"""Layer 7a: the update pipeline (ingest, reweight or fit, explain, store)."""
