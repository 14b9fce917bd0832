"""Helpers for tests and demos: a tiny model built on the fly, a scripted engine."""
