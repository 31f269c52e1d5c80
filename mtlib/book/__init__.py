"""What the chapters call: plots, tables, widgets, the toy problem and the paper's own numbers."""
