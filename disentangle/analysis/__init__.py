"""Analysis of trained runs: evaluation and its metrics context, curves over checkpoints,
ModelCentrality, tables, reports (Markdown and HTML), plots, the code-to-factor map and the
published numbers beside ours."""
