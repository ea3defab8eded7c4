"""Linking per-frame instances into CTC tracks (res_track.txt)."""
