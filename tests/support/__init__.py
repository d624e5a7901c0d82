"""Helpers shared by test folders (real servers and processes, never mocks)."""
