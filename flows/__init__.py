"""The data model: flows, their revisions, executions, task runs and logs."""
