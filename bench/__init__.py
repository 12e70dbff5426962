"""``make bench``: grantledger's performance figures (DESIGN §5) side by side with baselines.

Run ``python -m bench.run`` (what ``make bench`` does); ``python -m bench.profile`` profiles the
hot paths with py-spy.  Nothing here is imported by the application.
"""
