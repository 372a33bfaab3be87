"""Django's SQLite backend, with writes of one process queued on a mutex.

SQLite has one writer at a time. When several threads of a process (the executor,
the workers, the web server) want to write, the loser waits in SQLite's busy handler,
which sleeps 1, 2, 5, 10 ms... between tries: milliseconds lost on every contended
write. Taking a process-wide lock first hands the write lock over as soon as it is
free. Other processes still wait in the busy handler (busy_timeout).
"""
