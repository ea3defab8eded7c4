"""The ``ctc-unet`` command line (``ctc_unet.cli.app``), one module per verb."""
