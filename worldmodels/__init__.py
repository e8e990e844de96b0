"""worldmodels: the reusable, tested code of the course.

Chapters build ideas inline first and then import the tested version from here.
One idea per module; read any of them top to bottom.
"""

__version__ = "0.1.0"
