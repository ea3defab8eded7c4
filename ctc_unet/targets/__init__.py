"""Training targets of the paper (section 3): separation borders, weight maps, ignore masks
for partly annotated frames, and their on-disk cache."""
