"""Data sets: Fashion-MNIST (IDX), scikit-learn digits, image folders. Class names travel with the data."""
from genlens.data.base import ImageData
from genlens.data.registry import DATASETS
from genlens.data.spec import DataSpec, load_data, load_dataset, parse_data_spec

__all__ = ["DATASETS", "DataSpec", "ImageData", "load_data", "load_dataset", "parse_data_spec"]
