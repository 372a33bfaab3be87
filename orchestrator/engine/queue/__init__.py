"""Queue backends: how runnable task runs reach workers (one interface, one contract test)."""
