"""Layer 2: the model itself (the dataset, the PyMC graph, the Kalman path, the signal density, draws and their likelihood)."""
