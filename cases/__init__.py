"""Case work (DESIGN.md §7): cases, steps and their corrections, links of clips to steps, the
recording-completeness report."""
