"""Datasets: (Fashion-)MNIST, SVHN, CelebA, 3D Chairs, 3D Faces, sprites, dSprites, 3D Shapes,
MPI3D, SmallNORB, Cars3D."""

from __future__ import annotations

from disentangle import hookimpl
from disentangle_data.cars3d import Cars3d, Cars3dParams
from disentangle_data.celeba import Celeba, CelebaParams
from disentangle_data.chairs import Chairs, ChairsParams
from disentangle_data.commands import add_data_commands
from disentangle_data.dsprites import Dsprites, DspritesParams, ScreamDsprites, ScreamDspritesParams
from disentangle_data.faces import Faces, FacesParams
from disentangle_data.fine_grained import Cub, FineGrainedParams, StanfordCars, StanfordDogs
from disentangle_data.image_folder import ImageFolder, ImageFolderParams
from disentangle_data.mpi3d import Mpi3dParams, Mpi3dReal, Mpi3dRealistic, Mpi3dToy
from disentangle_data.procedural import Procedural, ProceduralParams
from disentangle_data.shapes3d import Shapes3d, Shapes3dParams
from disentangle_data.smallnorb import Smallnorb, SmallnorbParams
from disentangle_data.svhn import Svhn, SvhnParams
from disentangle_data.torchvision_sets import FashionMnist, IdxParams, Mnist


@hookimpl
def register_datasets(register):
    register("mnist", Mnist, IdxParams)
    register("fashion_mnist", FashionMnist, IdxParams)
    register("procedural", Procedural, ProceduralParams)
    register("svhn", Svhn, SvhnParams)
    register("celeba", Celeba, CelebaParams)
    register("chairs", Chairs, ChairsParams)
    register("faces", Faces, FacesParams)
    register("dsprites", Dsprites, DspritesParams)
    register("scream_dsprites", ScreamDsprites, ScreamDspritesParams)
    register("shapes3d", Shapes3d, Shapes3dParams)
    register("mpi3d_toy", Mpi3dToy, Mpi3dParams)
    register("mpi3d_realistic", Mpi3dRealistic, Mpi3dParams)
    register("mpi3d_real", Mpi3dReal, Mpi3dParams)
    register("smallnorb", Smallnorb, SmallnorbParams)
    register("cars3d", Cars3d, Cars3dParams)
    register("image_folder", ImageFolder, ImageFolderParams)
    register("cub", Cub, FineGrainedParams)
    register("cars", StanfordCars, FineGrainedParams)
    register("dogs", StanfordDogs, FineGrainedParams)


@hookimpl
def register_commands(cli):
    add_data_commands(cli)
