"""Scoring with stored models: ONNX graphs through ONNX Runtime (``onnx_model``).

SQL's ``PREDICT`` and Spark's scoring reach it through the services, never directly (adapters
do not import one another).
"""
