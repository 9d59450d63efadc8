"""FHIR data access: the gatherer, bounded reads, the outbound allowlist, bundle reading, server URLs."""
