"""The ``lakeworks`` command line: a Typer app (``app.py``) with one module per noun.

Only this package knows Typer and Rich. Its modules import the SDK (``lakeworks.client``) and
services inside command functions so that ``lakeworks --help`` stays fast.
"""
