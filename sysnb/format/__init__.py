"""Text output as sysdig prints it: default line, -p formats, evt.args rendering, -A/-X/-x, -j."""
