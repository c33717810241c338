"""Speed measurements, run on demand (``make benchmark``), reported as ratios against a baseline measured in the same run."""
