"""The Slack surface: listeners that turn Slack payloads into call requests, and calls into messages.

Nothing is imported here, so `bot.slack.texts` or `bot.slack.blocks` load without Bolt or any listener; the
listeners are wired by `bot.slack.listeners.register`.
"""
