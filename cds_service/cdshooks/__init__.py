"""The CDS Hooks protocol: wire models, request intake, prefetch templates, discovery and the hook registry."""
