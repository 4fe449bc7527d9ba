"""Targets: what a statement of each standard must satisfy, one package per standard."""

__all__: list[str] = []
