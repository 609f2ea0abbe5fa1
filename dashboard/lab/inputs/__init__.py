"""Inputs: what goes into a model. The bundled MNIST digits and torchvision's datasets (data), and an
uploaded image checked and decoded in bounded memory (uploads).

May import: the common ground of dashboard.lab (settings, serial, hardware). Nothing else of the lab.
"""
