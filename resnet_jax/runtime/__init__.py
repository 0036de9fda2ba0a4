"""What a run runs on and how it talks: command lines, the terminal and log file, configs from files and workdirs,
progress, host memory."""
