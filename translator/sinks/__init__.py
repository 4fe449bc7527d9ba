"""Sinks: where statements and rejected lines go (stdout, files, destinations, dead letters)."""

__all__: list[str] = []
