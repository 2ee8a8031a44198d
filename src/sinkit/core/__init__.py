"""Method-independent building blocks: image I/O, resizing, pyramids, checkpoints, the model interface."""
