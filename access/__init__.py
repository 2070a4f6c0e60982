"""Who may see what (DESIGN.md §8): purposes, the access log (调阅监督) and its rules."""
