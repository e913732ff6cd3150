"""Ports: the typing.Protocol interfaces that services use and adapters implement.

One small module per port. Ports import only the standard library, pydantic and ``core``.
"""
