"""`armloop bench`: the plan of trials (plan.py), one trial (trial.py), the executors that run
them (executors.py) and the bench from plan to report (runner.py)."""
