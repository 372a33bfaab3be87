"""Task types: one module each, registered by dotted path in settings.CHOREO_TASK_MODULES."""
