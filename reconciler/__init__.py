"""Declarative reconciler for cloud IP address management."""

__version__ = "0.1.0"
