"""Helpers the tests share: tiny recipes, dataset files in their real layouts, a loopback server."""
