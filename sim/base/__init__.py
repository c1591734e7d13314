"""The foundation every layer may use: the error classes and the schema helpers.

Nothing here knows about users, levers, money or files; it imports only the
standard library.
"""
