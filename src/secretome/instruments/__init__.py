"""Instrument readers: vendor export bytes in, typed tidy measurements out."""
