"""Green-channel referrals: a pure state machine, the timeline and time metrics."""
