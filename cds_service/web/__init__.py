"""HTTP only: routes, body reading and limits, OpenAPI."""
