"""Secretome: traceable production and QC of MSC conditioned medium, from donor to signed certificate.

Layout
------
``analysis``     pure numerical core (numpy, scipy, lmfit): curve fits, potency, statistics.
``domain``       pure domain rules: roles, audit-chain hashing, lifecycles, derived culture values.
``instruments``  readers that turn vendor export files into tidy measurements.
``db``           Django models (persistence) grouped by bounded context.
``services``     the only code that writes: one use case, one transaction, one audit event.
``web``          the Django web app and the django-ninja JSON API (thin).
``cli``          the Typer command line ``secretome`` (thin).
``api``          the Python API for scripts and notebooks.
"""

__version__ = "0.1.0"
