"""Local stand-ins for Slack and Voximplant, shared by the tests and `callbot sandbox`."""
