"""The paper's U-Net and the tile geometry of unpadded convolutions."""
