"""The model zoo: a trained run exported for other tools, as a bioimage.io model package
(format 0.5) that deepImageJ (Fiji), ilastik, QuPath, napari and Icy run."""
