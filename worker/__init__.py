"""RQ entry point: the job functions and the worker process of Zorgreserve."""
