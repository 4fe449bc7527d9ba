"""Intake: where lines come from (files, gzip, stdin) and how each becomes one normalised event."""

__all__: list[str] = []
