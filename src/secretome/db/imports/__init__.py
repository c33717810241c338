"""Instrument imports: raw files and the measurements they produced."""
