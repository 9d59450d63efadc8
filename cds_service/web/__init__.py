"""HTTP only: routes, body reading and limits, the access log, OpenAPI."""
