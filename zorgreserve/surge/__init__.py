"""Surge phases (LNAZ opschalingsplan): declarations per region and nationally, and their policy."""
