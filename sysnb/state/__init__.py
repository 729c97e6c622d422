"""The state engine: threads, processes, fds, users; enter/exit pairing; table columns."""
