"""mtlib: Mean Teacher (Tarvainen & Valpola, NIPS 2017), the Pi model and Temporal Ensembling.

One concept per module: ``ramps``, ``losses``, ``ema`` are leaves; ``datasets``, ``splits``,
``batches``, ``noise``, ``normalize`` make the data; ``models`` the networks; ``methods`` turn a
batch into a loss; ``trainer`` runs any method; ``results`` saves what a run produced.
"""

__version__ = "0.1.0"
