"""`make loadtest`: the serve command under a closed-loop Locust mix (see loadtest/run.py)."""
