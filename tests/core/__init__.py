"""Old home of the pure-pipeline helpers, kept only because tests/rules/test_rule_cases.py imports them.

The helpers now live in tests/pipeline.py and tests/card_checks.py. Delete this package once that
module imports them from there (tests/rules/ is being reworked in parallel; it is not edited here).
"""
