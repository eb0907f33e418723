"""The HTTP API of the lab service: native routes under /api/v1, an OctoPrint subset under /api."""
