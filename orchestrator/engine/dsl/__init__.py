"""The flow language: YAML text → typed flow spec, with errors at lines and columns."""
from orchestrator.engine.inputs.definitions import InputDefinition, InputError, InputType, resolve_inputs
from orchestrator.engine.dsl.issues import FlowIssue
from orchestrator.engine.dsl.outputs import OutputDefinition, OutputError, typed_outputs
from orchestrator.engine.dsl.parser import ParseResult, parse_flow
from orchestrator.engine.dsl.schema import flow_json_schema
from orchestrator.engine.dsl.spec import Concurrency, FlowSpec, Listener, PluginDefault
from orchestrator.engine.dsl.triggers import TriggerSpec

__all__ = [
    "Concurrency",
    "FlowIssue",
    "FlowSpec",
    "InputDefinition",
    "InputError",
    "InputType",
    "Listener",
    "OutputDefinition",
    "OutputError",
    "ParseResult",
    "PluginDefault",
    "TriggerSpec",
    "flow_json_schema",
    "parse_flow",
    "resolve_inputs",
    "typed_outputs",
]
