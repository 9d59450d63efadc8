"""The audit and feedback store: records, the store protocol and its SQLite implementation."""
