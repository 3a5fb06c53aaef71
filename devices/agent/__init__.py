"""The cart agent: watches the cart's export folder, keeps a durable outbox, uploads with resume."""

AGENT_VERSION = "0.1.0"
