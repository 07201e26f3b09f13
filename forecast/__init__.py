"""forecast: a Bayesian forecaster for the Russia-Ukraine ceasefire negotiations."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("forecast")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
