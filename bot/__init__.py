"""callbot: place outbound phone calls from Slack through Voximplant."""

__version__ = "0.1.0"
