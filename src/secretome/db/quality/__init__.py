"""Specifications, results, lot disposition, signatures and certificates."""
