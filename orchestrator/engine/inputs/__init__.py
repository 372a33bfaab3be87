"""Typed values: flow inputs, Pause ``onResume`` inputs and flow outputs are read and coerced
the way Kestra reads them. Below both the flow language (dsl) and the task types, which use it."""
from orchestrator.engine.inputs.definitions import InputDefinition, InputError, InputType, resolve_inputs

__all__ = ["InputDefinition", "InputError", "InputType", "resolve_inputs"]
