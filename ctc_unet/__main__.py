"""``python -m ctc_unet`` runs the CLI."""

from ctc_unet.cli.app import main

main()
