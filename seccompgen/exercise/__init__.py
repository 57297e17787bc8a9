"""Exercising a target while it is traced: the built-in loopback HTTP prober (``prober``)."""
