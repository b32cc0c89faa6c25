"""mer-keras: Keras 3 reproductions of lightweight micro-expression recognition systems.

Heavy dependencies (TensorFlow, dlib, OpenCV) are imported by the submodules that need them, so
``import mer_keras`` and the dataset tools stay fast.
"""
__version__ = "0.1.0"
