"""The MCP door: the lipsync tools for AI assistants, over stdio and streamable HTTP."""
