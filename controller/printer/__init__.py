"""One printer: its session, the jobs it runs, the machine state they track and the layer check."""
