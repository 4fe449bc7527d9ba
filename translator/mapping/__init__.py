"""The mapping language: YAML nodes, directives, built-in functions, and the event compiler."""

__all__: list[str] = []
