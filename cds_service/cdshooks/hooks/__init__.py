"""One module per hook; each declares ``HOOK = HookSpec(...)`` (collected by ``cdshooks.registry``)."""
