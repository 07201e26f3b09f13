"""Constants shared by every part, so that no module invents its own."""

# Dimension names used in the model, the posterior file and every table.
FACTOR = "factor"
WEEK = "week"
DEAL = "deal"
OUTCOME = "outcome"  # the deal types followed by the complement (no deal)
HORIZON = "horizon"
GRADE_RELIABILITY = "reliability"
GRADE_CREDIBILITY = "credibility"
SAMPLE_DIMS = ("chain", "draw")  # the dimensions that index draws

# The one interval reported everywhere: 5-95 % across posterior draws.
INTERVAL = (0.05, 0.95)

# Default seed: the seed article's publication date.
DEFAULT_SEED = 20250221

# Sampler defaults. Four chains for a useful R-hat. 500 tuning draws suffice because the mass
# matrix starts at the posterior's scales (inference/sampler.py); 1000
# draws a chain keep the largest of thousands of R-hats under the limit on long logs.
DEFAULT_DRAWS = 1000
DEFAULT_TUNE = 500
DEFAULT_CHAINS = 4
# NUTS's target acceptance: PyMC's default. The Kalman-guided coordinates are close to standard
# normal, so the step size is set by the dimension alone, and 0.9 would only double the tree
# depth on the longest logs (31 leapfrog steps a draw instead of 15 at 20,000 readings).
TARGET_ACCEPT = 0.8

# Diagnostic limits. A run outside them is stored but flagged (exit code 3).
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100  # Vehtari et al. (2021): bulk and tail ESS >= 100 per chain
DIVERGENCES_MAX = 0

# Admiralty grades (NATO AJP-2.1): source reliability and information credibility.
RELIABILITY_GRADES = ("A", "B", "C", "D", "E", "F")
CREDIBILITY_GRADES = ("1", "2", "3", "4", "5", "6")

# Dates this long before the priors' start are refused as typos (1900 for 2025): they would make
# a fit of decades. 12 years admits the war's whole record from 2014; FORECAST_EARLIEST=YYYY-MM-DD
# sets another earliest date.
EARLIEST_YEARS_BEFORE_START = 12
EARLIEST_ENV = "FORECAST_EARLIEST"
