"""The .scap file format: block framing, event table (data), reader."""
