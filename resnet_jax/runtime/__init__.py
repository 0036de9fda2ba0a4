"""The shell: the programs' shared command line (cli.py), the config a command line names (config_flags.py), the
terminal (console.py), what a run runs on (environment.py), host memory on CPU-only runs (host_memory.py), and the
flags of the sweeps, the studies and the JPEG table. Only the shell knows flags; the library imports nothing here."""
