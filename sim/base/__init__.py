"""The foundation every layer may use: the error classes, the schema helpers and float sums.

Nothing here knows about users, levers, money or files; it imports only the
standard library.
"""
