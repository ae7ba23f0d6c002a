"""Data sets: Fashion-MNIST (IDX), scikit-learn digits, image folders, .npz. Class names travel with the data.

Trainers: ``open_data(DataOptions(spec, resolution=, channels=))`` then ``batches(data, batch=, seed=, epoch=)``
(:mod:`genlens.data.stream`: in memory, or streamed for folders too big for memory); ``data.labelled`` says
whether to train class-conditionally, ``captions_for(data)`` gives per-image captions of a folder.
"""
from genlens.data.base import ImageData
from genlens.data.folder_captions import captions_for
from genlens.data.options import DataOptions, apply_options, load_with_options
from genlens.data.registry import DATASETS
from genlens.data.spec import DataSpec, load_data, load_dataset, parse_data_spec
from genlens.data.stream import StreamedFolder, batches, open_data

__all__ = ["DATASETS", "DataOptions", "DataSpec", "ImageData", "StreamedFolder", "apply_options", "batches",
           "captions_for", "load_data", "load_dataset", "load_with_options", "open_data", "parse_data_spec"]
