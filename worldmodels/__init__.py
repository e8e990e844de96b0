"""worldmodels: the reusable, tested code of the course.

Chapters build ideas inline first and then import the tested version from here.
One idea per module; read any of them top to bottom.
"""

import os

# Spinning OpenMP threads fight each other on a busy 2-core laptop; waiting passively keeps the same
# results and made small training steps several times faster. Takes effect if torch is not loaded yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
