"""worldmodels: the reusable, tested code of the course.

Chapters build ideas inline first and then import the tested version from here.
One idea per module; read any of them top to bottom.
"""

# How torch's idle OpenMP threads wait between operations is left to OpenMP (they spin a little, then
# sleep). It never changes a result, only the speed. On free cores spinning is fastest: chapter 5's
# training step takes 46 ms spinning and 87 ms with OMP_WAIT_POLICY=PASSIVE on 2 quiet cores (a step
# is ~600 small operations, and waking a sleeping thread costs each of them). On a machine already busy
# with other work, a spinning thread takes the core the others need: there PASSIVE is 2-3x faster.
# `make test` runs three jobs on two cores and sets PASSIVE for them; set it yourself on a busy machine
# (before torch is imported). bench/scaling.py measures both.

__version__ = "0.1.0"
