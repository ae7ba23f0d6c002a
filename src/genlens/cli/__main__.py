"""``python -m genlens.cli`` (and ``accelerate launch -m genlens.cli ...``) runs the genlens command line."""
from genlens.cli.main import main

main()
