"""The fleet of printers: drivers, the queue and its intake of uploads, and the lab service that wires them."""
