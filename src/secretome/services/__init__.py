"""The service layer: the only code that writes.

Every write is a service function that takes the acting user and a reason, runs in one transaction and
writes its audit event in that same transaction, so a use case that fails half way leaves neither the
record nor its audit event behind.
"""
