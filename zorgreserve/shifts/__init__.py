"""Shifts after booking: the reservist's shifts, calendar feed, reminders, cancellation and hours."""
