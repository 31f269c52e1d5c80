"""The data layer: datasets as uint8 tensors, seeded label splits, batch schemes, noise, normalisation."""
from mtlib.data.prepare import SemiSupervisedData, load_data, prepare_data

__all__ = ["SemiSupervisedData", "load_data", "prepare_data"]
