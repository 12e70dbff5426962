"""HTTP shapes: request bodies that build commands, and answers built from read models."""
