"""Impact-evaluation workspace for integration agencies.

The package holds everything the notebooks share: paths, demo data, loading, indicators,
estimators, disclosure control, plots, the run plan, the runner and report export.
Importing the package is cheap; heavy libraries are imported by the modules that need them.
"""

__version__ = "0.1.0"
