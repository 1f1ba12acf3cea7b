"""The HTTP layer: with web/, the only code importing the web framework. Handlers parse, call, serialize."""
