"""The local cloud: plays AWS on one machine so the whole pipeline runs without an account."""
