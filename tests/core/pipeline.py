"""Re-export of tests.pipeline for tests/rules/test_rule_cases.py (see tests/core/__init__.py)."""

from tests.pipeline import CARDS_DIR, cards_of, ketamine_order, run

__all__ = ["CARDS_DIR", "cards_of", "ketamine_order", "run"]
