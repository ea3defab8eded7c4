# %% [markdown]
# # ctc-unet in a Python session
#
# A notebook session end to end, as cells (`# %%`: Jupyter, VS Code and jupytext open this
# file as a notebook): a trained model on arrays, instances with another threshold, tracks of
# a list of arrays, scores, a CTC result written and read back, and the model travelling as
# one file. `python docs/python-session.py` runs it on the demo data (about two minutes on a
# laptop CPU, most of it training); CI runs it on a smaller model (tests/test_docs_session.py).

# %%
import os
from pathlib import Path

import numpy as np
import tifffile

import ctc_unet

work = Path(os.environ.get("CTC_UNET_SESSION_DIR", "ctc-unet-session"))
run = os.environ.get("CTC_UNET_SESSION_RUN")           # a trained run, if you have one
data = Path(os.environ.get("CTC_UNET_SESSION_DATA", work / "data" / "Synthetic-C2DH"))
if run is None:  # the demo: synthetic data, a small U-Net trained on it, evaluated, packaged
    done = ctc_unet.demo(out=work, device="cpu")
    run, data = done.run, work / "data" / "Synthetic-C2DH"

# %% A model, and one frame as an array
model = ctc_unet.load_model(run, device="cpu")
print(model)
frame = tifffile.imread(data / "02" / "t000.tif")       # a frame nothing trained on
prob = model.predict_probabilities(frame)               # (H, W) float32, P(cell)
labels = model.predict_instances(frame)                 # the post-processing the run chose
stricter = model.predict_instances(frame, threshold=0.8, min_size=50)
print(f"P(cell) in [{prob.min():.2f}, {prob.max():.2f}]; {labels.max()} cells, "
      f"{stricter.max()} at threshold 0.8")

# %% Track a clip: the model's own masks, or any segmenter's
frames = [tifffile.imread(p) for p in sorted((data / "02").glob("t*.tif"))[:8]]
masks, records = model.track(frames)                   # tracked labels, res_track.txt records
others = [tifffile.imread(p) for p in sorted((data / "02_ST" / "SEG").glob("*.tif"))[:8]]
linked, linked_records = ctc_unet.link(others)          # masks from elsewhere, linked
print(f"model: {len(records)} tracks; given masks: {len(linked_records)} tracks")

# %% Score them against the reference of these frames
markers, reference, numbers = ctc_unet.read_reference(data, "02", frames=range(8))
seg = ctc_unet.score_masks(others[0], labels, markers=markers[0])  # vs the silver truth
print(f"frame 0: SEG {seg['SEG']:.3f}, DET {seg['DET']:.3f}, {seg['objects']} objects, "
      f"{seg['missed']} missed, {seg['extra']} extra")
scores = ctc_unet.score_tracks(markers, reference, masks, records)
print("tracked clip: " + ", ".join(f"{k} {scores[k]:.3f}" for k in ("DET", "TRA", "LNK")))

# %% Write a CTC result, read it back
result = ctc_unet.write_result(work / "02_RES", masks, records)
back, back_records, numbers = ctc_unet.read_result(result)
assert all(np.array_equal(a, b) for a, b in zip(back, masks, strict=True))
print(f"{result}: {len(numbers)} frames, {len(back_records)} tracks")

# %% The model as one file: a bioimage.io package, loaded back
package = ctc_unet.export(run, data=data, out=work / "model.bioimageio.zip")
travelled = ctc_unet.load_model(package, device="cpu")
same = np.array_equal(travelled.predict_instances(frame), labels)
print(f"{package.name}: the same instances as the run: {same}")
assert same
