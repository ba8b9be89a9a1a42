"""`stackbench compare`: evaluate both stacks on one inventory and report them side by side."""
