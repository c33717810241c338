"""Donor-to-lot genealogy records."""
