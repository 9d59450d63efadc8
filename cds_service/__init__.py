"""Ketamine-infusion CDS Hooks service."""
