"""Prompt templates (`*.md`, `string.Template` syntax). Rendered by loop.run.prompting."""
