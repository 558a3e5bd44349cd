"""What the model reads after a failure: compose.py assembles it from the failing code in
context (code.py), the returned action against what the task accepts (action.py) and one-line
fixes for the mistakes small models make (hints.py)."""
