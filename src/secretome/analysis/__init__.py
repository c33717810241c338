"""Pure analysis core: numpy, scipy and lmfit only; no Django, no files, no clock.

Data and time come in as arguments; results go out as frozen, serialisable objects.
"""
