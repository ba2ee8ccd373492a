"""Built-in Jinja2 templates, one per backend (package data)."""
