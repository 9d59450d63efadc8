"""Pure rendering: findings to CDS Hooks cards (summary, detail, suggestions)."""
