"""The root of callbot's error tree, alone in a module that imports nothing, so that every layer can reach it.

bot/store may import only the standard library, bot.calls.models and this module (tests/test_layers.py), and its
StoreUnavailable is a CallbotError too. Everyone else imports CallbotError from bot.errors, which draws the tree.
"""


class CallbotError(Exception):
    """Base of every error callbot raises on purpose."""
