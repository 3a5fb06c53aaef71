"""Township ECG carts: registry, enrollment, heartbeat and clock sync, the cart agent, the ECG simulator."""
