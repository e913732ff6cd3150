"""Online endpoints served over HTTP: the server, its worker processes and their wire format.

``lakeworks.serving.server`` runs the front process (HTTP on 127.0.0.1 through uvicorn: routing,
keys, traffic, limits, metrics); ``lakeworks.serving.worker`` is one instance of a deployment
(a process holding the model); ``lakeworks.serving.wire`` is how the two talk.
"""
