"""The ECG relay: websocket protocol (server and client), ECG formats, storage, analysis."""
