"""`armloop report`: reading run directories (runs.py), the arithmetic (stats.py), the figures
(plots.py) and the written report (write.py). It only reads run directories."""
