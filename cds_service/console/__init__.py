"""The console for the people who own the rules (``/console``): analytics, knowledge base, explain, shadow.

It sits at the HTTP edge beside ``web``: off unless ``CDS_CONSOLE=on``, behind its own token.
"""
