"""Persistence: Django models grouped by bounded context. Only ``secretome.services`` writes them."""
