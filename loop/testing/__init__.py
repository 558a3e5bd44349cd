"""Test doubles that run for real: a scripted, paced model server on loopback sockets."""
