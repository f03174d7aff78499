"""The scenario model: each section's schema, units, safe YAML, one-line errors,
the rules on which sections combine, and `--set` / grid overrides. No simulation here."""
