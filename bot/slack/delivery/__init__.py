"""The outbox: every Slack write for a call is stored in the database first and forgotten only once Slack accepted it.

- `outbox.py`: `Delivery`, what the rest of the bot calls: queue a write, and one worker per call that sends its
  writes in order, holding the call's lease (one replica at a time), DMs about a call (`tell_user`) among them; also
  the one notice that is not queued (`tell_requester`: a response_url lives in memory only).
- `handover.py`: among replicas, writes another replica is delivering, and the sweep for a dead replica's.
- `updater.py`: parent updates, within the workspace's chat.update budget.
- `threads.py`: where a call's messages go (its conversation, its thread, else a DM) and what each refusal means.
- `replies.py`: reply texts: transcript lines grouped, long texts cut, the summary written when sent.
- `call_order.py`: a call's transcript lines in its order, waiting a moment for an earlier event's line.
- `write_ups.py`: the summary's written lines (OPENAI_API_KEY), asked for once and kept with its row before it is sent.
- `sender.py`: one write on its way: paced per channel, retried through 429s, 5xx and a refused token.
- `rules.py`: the Slack error codes delivery branches on, and the retry rules.
"""

from bot.slack.delivery.outbox import Delivery

__all__ = ["Delivery"]
