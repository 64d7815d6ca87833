"""Indicators: pure functions from data-snapshot tables to tables of figures."""
