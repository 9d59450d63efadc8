"""Knowledge base: schema, loader and the rule engine."""
