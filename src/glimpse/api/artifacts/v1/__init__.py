"""Handlers of the artifacts API v1: parse, one service call, serialize."""
