"""Test infrastructure fixtures."""
