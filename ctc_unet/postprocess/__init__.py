"""From probabilities to instances, and choosing the post-processing settings."""
