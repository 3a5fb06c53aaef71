"""心联 xinlian: the central platform that composes the domain packages.

Domain packages (ecg_relay, referral_engine, training, devices) hold pure logic and
their own tables; this package owns settings, the database session, auth, audit,
web views, the JSON API and the CLI.
"""

__version__ = "0.1.0"
