"""FHIR data access: the gatherer, bundle and page reading, server URLs."""
