"""The engine: flow language, expressions, executor, workers and scheduler."""
