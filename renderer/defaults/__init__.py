"""Backend defaults: the lowest layer of every render (package data)."""
