"""Choreo: a declarative data orchestrator."""
