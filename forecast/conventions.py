"""Constants shared by every part, so that no module invents its own."""

# Dimension names used in the model, the posterior file and every table.
FACTOR = "factor"
WEEK = "week"
DEAL = "deal"
OUTCOME = "outcome"  # the deal types followed by the complement (no deal)
HORIZON = "horizon"
GRADE_RELIABILITY = "reliability"
GRADE_CREDIBILITY = "credibility"
OCCASION = "occasion"  # the scheduled occasion types of the priors
BREAK = "break"  # logged breaks, by week (docs/MODEL.md, "Breaks")
CODER = "coder"  # who coded the readings (docs/MODEL.md, "Coders"); "" the default coder
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
# NUTS's target acceptance: Stan's and PyMC's default. With PyMC's sampler the project had raised
# it to 0.9 (divergences on short sparse logs); with the compiled sampler and Stan's windowed
# adaptation the corpus of sparse logs and the record show no divergence at 0.8, and the record's
# effective draws per second are a third higher (benchmarks/robustness.py, benchmarks/ess.py).
TARGET_ACCEPT = 0.8
# A fit that fails its diagnostics is retried once with these (the run says so): smaller steps
# for divergences, more draws for R-hat and ESS.
RETRY_TARGET_ACCEPT = 0.97
RETRY_DRAWS_FACTOR = 2
# Runs stored before the target acceptance was recorded were sampled at PyMC's default.
LEGACY_TARGET_ACCEPT = 0.8

# A backtest's verdict on the model against a baseline (evaluation/skill.py), stored in its
# results and read back by the brief (brief/record_evidence.py).
BEATS, LOSES, UNCLEAR = "beats", "loses to", "no clear difference"

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
