"""Sub-commands of the ``hrgcnet`` console script (one module each)."""
