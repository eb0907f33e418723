"""The host: line protocol, serial transport, jobs across printers, store, API, dashboard and CLI."""
