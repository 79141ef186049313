"""The reports: built from results dictionaries only (results.json in, HTML / Markdown / drift / migration out)."""
