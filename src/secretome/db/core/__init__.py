"""Core records: the audit trail and API tokens."""
