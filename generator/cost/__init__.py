"""Monthly cost of a stack: `estimate` (traffic and prices) and `table` (the terminal view)."""
