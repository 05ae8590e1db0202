"""Route × role expectations per domain module, merged into tests/access_table.py.

Each module here defines ``EXPECTED`` in the format documented in access_table.py.
"""
