"""Pictures and the HTML tour (this layer may plot and write files)."""
