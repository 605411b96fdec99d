"""The LiveKit test rig: network namespaces, the real servers, and a real client (see netns.py)."""
