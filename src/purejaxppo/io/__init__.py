"""Edges that touch files: run folders, CSV/JSON writers and plots (matplotlib imported lazily)."""
