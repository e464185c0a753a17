"""driftmatrix: does this model still load and predict the same after a dependency upgrade?"""

__version__ = "0.1.0"
