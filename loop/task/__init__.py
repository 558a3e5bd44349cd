"""The task vocabulary: specs (spec.py), the controller contract (contract.py) and the catalog
of task files (catalog.py). Nothing here imports the simulator."""
