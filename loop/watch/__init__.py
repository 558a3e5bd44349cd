"""`armloop watch`: saves as editors make them (files.py), one lane per file (lanes.py),
a saved controller run in its warm simulator (controller.py), a saved spec run through the
loop (spec.py), what each save records (events.py), and the Watcher that ties them (watcher.py)."""
