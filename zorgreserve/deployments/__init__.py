"""Deployment requests (inzetverzoeken): institutions ask for people, coordinators decide."""
