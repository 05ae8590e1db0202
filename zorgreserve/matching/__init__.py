"""Matching: which reservists may work a shift, and in what order to ask them."""
