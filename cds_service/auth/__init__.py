"""CDS client authentication: the JWT authenticator, JWKS cache and replay cache."""
