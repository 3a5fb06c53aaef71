"""Township ECG carts: registry, enrollment, heartbeat and clock sync, cart agent, simulator."""
