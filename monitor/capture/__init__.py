"""Traffic capture: mitmproxy in-process on loopback, one addon that records every exchange."""
