"""Reports rendered from one Findings model plus the run directory it came from."""
