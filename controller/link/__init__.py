"""The host link: sans-IO protocol state machine, reply parsers, line framing and the pyserial transport."""
