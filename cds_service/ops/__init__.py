"""Operations: Prometheus metrics of the service and of its outbound FHIR calls."""
