"""Explorer panels: each turns validated requests into images by calling the public library API."""
