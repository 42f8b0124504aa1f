"""The Discord door: slash commands on discord.py over `engine.service` (see run.py)."""
