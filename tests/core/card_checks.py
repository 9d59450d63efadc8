"""Re-export of tests.card_checks for tests/rules/test_rule_cases.py (see tests/core/__init__.py)."""

from tests.card_checks import assert_card_follows_spec

__all__ = ["assert_card_follows_spec"]
