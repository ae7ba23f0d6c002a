"""Data sets: Fashion-MNIST (IDX), scikit-learn digits, image folders. Class names travel with the data."""
from genlens.data.base import ImageData
from genlens.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "ImageData", "load_dataset"]
