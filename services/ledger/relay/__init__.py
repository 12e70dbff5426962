"""The relay: every committed event, in position order, to NATS JetStream exactly once.

The events table is the outbox: positions are commit-ordered and gap-free, so the relay needs
no bookkeeping of its own.  It resumes after the last position the stream holds (read back from
the stream's last message), and every message it sends carries a guard the server checks
(the stream's last sequence or last message id must be what the relay saw), so a publish that
was lost, buffered or repeated can never leave a gap or an out-of-order message in the stream.
"""
