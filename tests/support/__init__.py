"""Helpers shared by the tests of several packages (not a test module itself)."""
