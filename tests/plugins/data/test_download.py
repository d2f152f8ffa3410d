"""`disentangle data download` against a server on 127.0.0.1: a good download, one cut off and
resumed with a Range request, a corrupted file, a 404, a stalled server, no network, a root
that already holds the data; and each source row unpacked into its dataset's layout from tiny
archives in the real formats (tests/support/layouts.py), then loaded."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from disentangle_data import mpi3d
from disentangle_data import sources as sources_module
from disentangle_data.sources import SOURCES_FILE, Source, read_sources
from disentangle_data.unpack import MARK
from support.layouts import (
    MPI3D_TINY_GRID,
    SMALLNORB_HALVES,
    write_cars,
    write_cars3d,
    write_chairs_tar,
    write_cub,
    write_dogs,
    write_dsprites,
    write_faces_jpegs,
    write_mpi3d,
    write_painting,
    write_shapes3d,
    write_smallnorb,
    write_split,
    write_svhn,
)
from support.loopback import Loopback, serving
from typer.testing import CliRunner

from disentangle.cli import add_plugin_commands, app
from disentangle.plugins import host

runner = CliRunner()
add_plugin_commands(app)

SHIPPED = read_sources(SOURCES_FILE)
DSPRITES_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


def served_path(url: str) -> str:
    """The path (and query) a mirror keeps of an upstream URL: what the server is asked."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def tar_of(folder: Path, names: list[str], compress: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w") as tar:
        for name in names:
            tar.add(folder / name, arcname=name)
    return buffer.getvalue()


# --- tiny files in each source row's real format, by the row's file name ---------------------


def idx_gz(scratch: Path) -> dict[str, bytes]:
    write_split(scratch, "train", 5, seed=0)
    write_split(scratch, "t10k", 3, seed=1)
    return {f"{p.name}.gz": gzip.compress(p.read_bytes()) for p in sorted(scratch.iterdir())}


def svhn(scratch: Path) -> dict[str, bytes]:
    for split in ("train", "test"):
        write_svhn(scratch, split, 4)
    return {p.name: p.read_bytes() for p in scratch.iterdir()}


def celeba(scratch: Path) -> dict[str, bytes]:
    write_faces_jpegs(scratch / "img_align_celeba", 3)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zip_:
        for path in sorted((scratch / "img_align_celeba").iterdir()):
            zip_.write(path, f"img_align_celeba/{path.name}")
    partition = b"000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n"
    return {"img_align_celeba.zip": buffer.getvalue(), "list_eval_partition.txt": partition}


def dsprites(scratch: Path) -> dict[str, bytes]:
    write_dsprites(scratch / DSPRITES_FILE)
    return {DSPRITES_FILE: (scratch / DSPRITES_FILE).read_bytes()}


def scream_dsprites(scratch: Path) -> dict[str, bytes]:
    write_painting(scratch / "The_Scream.jpg")
    return {**dsprites(scratch), "The_Scream.jpg": (scratch / "The_Scream.jpg").read_bytes()}


def shapes3d(scratch: Path) -> dict[str, bytes]:
    write_shapes3d(scratch / "3dshapes.h5")
    return {"3dshapes.h5": (scratch / "3dshapes.h5").read_bytes()}


def mpi3d_file(kind: str) -> Callable[[Path], dict[str, bytes]]:
    def make(scratch: Path) -> dict[str, bytes]:
        write_mpi3d(scratch / f"mpi3d_{kind}.npz")
        return {f"mpi3d_{kind}.npz": (scratch / f"mpi3d_{kind}.npz").read_bytes()}

    return make


@pytest.fixture(autouse=True)
def mpi3d_tiny_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny MPI3D files' grid among those a file may hold (the real ones hold 1,036,800)."""
    monkeypatch.setattr(mpi3d, "GRIDS", (*mpi3d.GRIDS, MPI3D_TINY_GRID))


def smallnorb(scratch: Path) -> dict[str, bytes]:
    write_smallnorb(scratch, gz=True)
    return {p.name: p.read_bytes() for p in scratch.iterdir()}


def cars3d(scratch: Path) -> dict[str, bytes]:
    write_cars3d(scratch / "data" / "cars")
    (scratch / "data" / "shapes").mkdir()  # the archive holds the paper's other sets too
    return {"nips2015-analogy-data.tar.gz": tar_of(scratch, ["data"], compress=True)}


def chairs(scratch: Path) -> dict[str, bytes]:
    write_chairs_tar(scratch / "rendered_chairs.tar")
    return {"rendered_chairs.tar": (scratch / "rendered_chairs.tar").read_bytes()}


def cub(scratch: Path) -> dict[str, bytes]:
    write_cub(scratch)
    return {"CUB_200_2011.tgz": tar_of(scratch, ["CUB_200_2011"], compress=True)}


def cars(scratch: Path) -> dict[str, bytes]:
    write_cars(scratch)
    return {
        "cars_train.tgz": tar_of(scratch, ["cars_train"], compress=True),
        "car_devkit.tgz": tar_of(scratch, ["devkit"], compress=True),
    }


def dogs(scratch: Path) -> dict[str, bytes]:
    write_dogs(scratch)
    return {
        "images.tar": tar_of(scratch, ["Images"], compress=False),
        "annotation.tar": tar_of(scratch, ["Annotation"], compress=False),
    }


#: each row's fixture files, and paths the layout must then hold (archives gone)
ROWS: dict[str, tuple[Callable[[Path], dict[str, bytes]], list[str]]] = {
    "mnist": (idx_gz, ["MNIST/raw/train-images-idx3-ubyte.gz"]),
    "fashion_mnist": (idx_gz, ["FashionMNIST/raw/train-labels-idx1-ubyte.gz"]),
    "svhn": (svhn, ["train_32x32.mat", "test_32x32.mat"]),
    "celeba": (celeba, ["celeba/img_align_celeba/000001.jpg", "celeba/list_eval_partition.txt"]),
    "dsprites": (dsprites, [DSPRITES_FILE]),
    "scream_dsprites": (scream_dsprites, [DSPRITES_FILE, "scream/The_Scream.jpg"]),
    "shapes3d": (shapes3d, ["3dshapes.h5"]),
    "mpi3d_toy": (mpi3d_file("toy"), ["mpi3d_toy.npz"]),
    "mpi3d_realistic": (mpi3d_file("realistic"), ["mpi3d_realistic.npz"]),
    "mpi3d_real": (mpi3d_file("real"), ["mpi3d_real.npz"]),
    "cars3d": (cars3d, ["data/cars/car_000_mesh.mat"]),
    "smallnorb": (smallnorb, [f"smallnorb-{SMALLNORB_HALVES[1]}-info.mat.gz"]),
    "chairs": (chairs, ["rendered_chairs.tar"]),
    "cub": (cub, ["CUB_200_2011/images.txt", "CUB_200_2011/images/001.Albatross/a.jpg"]),
    "cars": (cars, ["cars_train/00001.jpg", "devkit/cars_train_annos.mat"]),
    "dogs": (dogs, ["Images/n02085620-Chihuahua/n02085620_1.jpg", "Annotation"]),
}  # fmt: skip


def fixture_table(name: str, files: dict[str, bytes]) -> dict[str, Source]:
    """The shipped table with `name`'s checksums those of the fixture files (a row that
    publishes none keeps `checksum = "unknown"`)."""
    source = SHIPPED[name]
    rows = []
    for row in source.files:
        if row.digest is not None:
            row = row.model_copy(update={"md5": md5(files[row.filename]), "sha256": None,
                                         "content_md5": None})  # fmt: skip
        rows.append(row)
    return {**SHIPPED, name: source.model_copy(update={"files": tuple(rows)})}


def serve_row(name: str, files: dict[str, bytes], state: Loopback) -> None:
    for row in SHIPPED[name].files:
        state.files[served_path(row.url)] = files[row.filename]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Source]], None]:
    """Make the CLI read another table of sources."""

    def use(sources: dict[str, Source]) -> None:
        monkeypatch.setattr(sources_module, "shipped_sources", lambda: sources)

    return use


@pytest.fixture
def server() -> Iterator[Loopback]:
    with serving(Loopback()) as state:
        yield state


def download(name: str, root: Path, *flags: str) -> tuple[int, str]:
    argv = ["data", "download", name, "--root", str(root), *flags]
    result = runner.invoke(app, argv, env={"COLUMNS": "1000"})  # no wrapped paths
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- the table -------------------------------------------------------------------------------


def test_every_downloadable_dataset_has_a_row_and_every_row_a_dataset() -> None:
    drawn_or_yours = {"procedural", "image_folder"}
    assert set(SHIPPED) == set(host.datasets.names()) - drawn_or_yours
    assert set(ROWS) == {name for name, source in SHIPPED.items() if source.files}


def test_torchvision_checksums_are_torchvision_s() -> None:
    from torchvision import datasets

    def by_name(name: str) -> dict[str, str | None]:
        return {row.filename: row.md5 for row in SHIPPED[name].files}

    assert by_name("mnist") == dict(datasets.MNIST.resources)
    assert by_name("fashion_mnist") == dict(datasets.FashionMNIST.resources)
    svhn_md5 = {file: md5_ for _, file, md5_ in datasets.SVHN.split_list.values()}
    assert by_name("svhn").items() <= svhn_md5.items()
    celeba_md5 = {file: md5_ for _, md5_, file in datasets.CelebA.file_list}
    assert by_name("celeba").items() <= celeba_md5.items()


def test_a_table_row_must_say_how_it_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "sources.toml"
    bad.write_text('[x]\ntitle = "X"\npage = "p"\nlicence = "l"\n[[x.files]]\nurl = "http://h/f"\n')
    with pytest.raises(Exception, match="md5, sha256 or checksum = 'unknown'"):
        read_sources(bad)


# --- each row's layout after unpacking, loaded -----------------------------------------------


@pytest.mark.parametrize("name", sorted(ROWS))
def test_each_row_unpacks_into_the_layout_its_dataset_reads(
    name: str, tmp_path: Path, server: Loopback, table: Callable[[dict[str, Source]], None]
) -> None:
    make, expected = ROWS[name]
    (tmp_path / "scratch").mkdir()
    files = make(tmp_path / "scratch")
    serve_row(name, files, server)
    table(fixture_table(name, files))
    root = tmp_path / "data"
    code, output = download(name, root, "--mirror", server.url)
    assert code == 0, output
    assert "load from" in output
    for path in expected:
        assert (root / path).exists(), path
    left = files_under(root)
    assert not [p for p in left if p.endswith((".part", ".tgz", ".zip")) or "unpacking" in p]
    if any(row.digest is None for row in SHIPPED[name].files):
        assert "could not verify" in output and "sha256 is" in output
    else:
        assert "could not verify" not in output


def a_dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


#: folders at (or near) the dogs archive's staging name: (name, its mark's PID or None for no
#: mark, whether the download removes it: only a leftover that bears our mark of a dead process)
STAGING = {
    "user-folder-at-the-old-name": (".images.tar.unpacking", None, False),
    "user-folder-at-a-staging-name": (".images.tar.unpacking-mine", None, False),
    "leftover-of-a-live-process": (".images.tar.unpacking-live", os.getpid(), False),
    "leftover-of-a-dead-process": (".images.tar.unpacking-dead", -1, True),
}


@pytest.mark.parametrize("folder", sorted(STAGING))
def test_only_staging_folders_the_toolkit_made_are_removed(
    folder: str, tmp_path: Path, server: Loopback, table: Callable[[dict[str, Source]], None]
) -> None:
    name, pid, removed = STAGING[folder]
    (tmp_path / "scratch").mkdir()
    files = dogs(tmp_path / "scratch")
    serve_row("dogs", files, server)
    table(fixture_table("dogs", files))
    root = tmp_path / "data"
    (root / name).mkdir(parents=True)
    (root / name / "mine.txt").write_text("a file of the user's\n")
    if pid is not None:
        (root / name / MARK).write_text(f"{a_dead_pid() if pid == -1 else pid}\n")
    code, output = download("dogs", root, "--mirror", server.url)
    assert code == 0, output
    assert (root / "Images/n02085620-Chihuahua/n02085620_1.jpg").is_file()
    assert (root / name).exists() != removed
    if not removed:
        assert (root / name / "mine.txt").read_text() == "a file of the user's\n"
    staged = [p.name for p in root.iterdir() if "unpacking" in p.name and p.name != name]
    assert staged == []  # the download's own staging folders are gone


def test_faces_says_what_to_do_by_hand(tmp_path: Path) -> None:
    code, output = download("faces", tmp_path)
    assert code == 1
    assert "wednesday.csail.mit.edu/tejask/dcign" in output
    assert f"{tmp_path}/th_AZ_VARIED/FT_training/batch1" in output
    assert "Traceback" not in output and not (tmp_path / "th_AZ_VARIED").exists()


# --- the loopback cases, on the dSprites row --------------------------------------------------


@pytest.fixture
def npz(tmp_path: Path, server: Loopback, table: Callable[[dict[str, Source]], None]) -> bytes:
    """The dSprites row served with a tiny .npz, its table holding the file's md5."""
    (tmp_path / "scratch").mkdir()
    files = dsprites(tmp_path / "scratch")
    serve_row("dsprites", files, server)
    table(fixture_table("dsprites", files))
    return files[DSPRITES_FILE]


PATH = served_path(SHIPPED["dsprites"].files[0].url)


def test_a_good_download(tmp_path: Path, server: Loopback, npz: bytes) -> None:
    code, output = download("dsprites", tmp_path / "data", "--mirror", server.url)
    assert code == 0, output
    assert (tmp_path / "data" / DSPRITES_FILE).read_bytes() == npz
    assert files_under(tmp_path / "data") == [DSPRITES_FILE, *cache_of(tmp_path / "data")]
    assert server.requests == [(PATH, None)]
    assert "dsprites: 48 images of 1×64×64 load from" in output
    assert "Apache 2.0" in output


def cache_of(root: Path) -> list[str]:
    return [p for p in files_under(root) if p.startswith(".disentangle-cache/")]


def test_a_cut_download_resumes_with_a_range_request(
    tmp_path: Path, server: Loopback, npz: bytes
) -> None:
    server.cut_once.add(PATH)
    code, output = download("dsprites", tmp_path / "data", "--mirror", server.url)
    assert code == 0, output
    assert server.requests == [(PATH, None), (PATH, f"bytes={len(npz) // 2}-")]
    assert (tmp_path / "data" / DSPRITES_FILE).read_bytes() == npz


def test_a_part_left_by_an_earlier_run_is_resumed(
    tmp_path: Path, server: Loopback, npz: bytes
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / f"{DSPRITES_FILE}.part").write_bytes(npz[:100])
    code, output = download("dsprites", root, "--mirror", server.url)
    assert code == 0, output
    assert server.requests == [(PATH, "bytes=100-")]
    assert (root / DSPRITES_FILE).read_bytes() == npz
    assert not (root / f"{DSPRITES_FILE}.part").exists()


def test_a_server_that_ignores_the_range_sends_the_whole_file_again(
    tmp_path: Path, server: Loopback, npz: bytes
) -> None:
    server.ranges = False
    root = tmp_path / "data"
    root.mkdir()
    (root / f"{DSPRITES_FILE}.part").write_bytes(b"x" * 100)
    code, output = download("dsprites", root, "--mirror", server.url)
    assert code == 0, output
    assert server.requests == [(PATH, "bytes=100-")]
    assert (root / DSPRITES_FILE).read_bytes() == npz


def test_a_corrupted_file_is_removed_and_expected_against_got_said(
    tmp_path: Path, server: Loopback, npz: bytes
) -> None:
    corrupt = npz[:50] + bytes([npz[50] ^ 0xFF]) + npz[51:]
    server.files[PATH] = corrupt
    code, output = download("dsprites", tmp_path / "data", "--mirror", server.url)
    assert code == 1
    assert f"md5 expected {md5(npz)}, got {md5(corrupt)}" in output
    assert "Traceback" not in output
    assert files_under(tmp_path / "data") == []  # the partial file removed, nothing else written


def test_a_404_names_the_url(tmp_path: Path, server: Loopback, npz: bytes) -> None:
    del server.files[PATH]
    code, output = download("dsprites", tmp_path / "data", "--mirror", server.url)
    assert code == 1
    assert f"{server.url}{PATH}: the server answered HTTP 404" in output
    assert "github.com/deepmind/dsprites-dataset" in output  # the page, to get it by hand
    assert files_under(tmp_path / "data") == []


def test_a_stalled_server_times_out(tmp_path: Path, server: Loopback, npz: bytes) -> None:
    server.stall = True
    began = time.monotonic()
    flags = ("--mirror", server.url, "--timeout", "0.3")
    code, output = download("dsprites", tmp_path / "data", *flags)
    assert code == 1
    assert time.monotonic() - began < 5
    assert "no answer in 0.3 s (the server stalled)" in output
    assert "run the same command again to resume" in output


class Once(dict[str, bytes]):
    """Served files that answer once each: the next request gets a 404 (a server gone)."""

    def get(self, key: str, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        return self.pop(key, default)


def part_left(data: bytes) -> Callable[[Path, Loopback], None]:
    def setup(root: Path, server: Loopback) -> None:
        root.mkdir()
        (root / f"{DSPRITES_FILE}.part").write_bytes(data)
        del server.files[PATH]

    return setup


def cut_then_gone(root: Path, server: Loopback) -> None:
    server.files = Once(server.files)
    server.cut_once.add(PATH)


def disk_full(root: Path, server: Loopback) -> None:
    root.mkdir()
    (root / f"{DSPRITES_FILE}.part").symlink_to("/dev/full")  # every write: ENOSPC


#: (setup, what the message must say, what it must not); each exits 1 without a traceback
FAULTS = {
    "404-after-a-part-kept": (part_left(b"x" * 100), ["HTTP 404", "100 bytes", ".part"], []),
    "cut-then-server-gone": (cut_then_gone, ["HTTP 404", "bytes already fetched are kept"], []),
    "disk-full": (disk_full, ["the disk is full", "{root}", "more bytes"], ["--mirror"]),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_during_a_download_is_said_as_it_is(
    fault: str, tmp_path: Path, server: Loopback, npz: bytes
) -> None:
    if fault == "disk-full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    setup, needles, wrong = FAULTS[fault]
    root = tmp_path / "data"
    setup(root, server)
    code, output = download("dsprites", root, "--mirror", server.url)
    assert code == 1, output
    assert "Traceback" not in output
    for needle in needles:
        assert needle.replace("{root}", str(root)) in output, (needle, output)
    for needle in wrong:
        assert needle not in output, (needle, output)


def test_no_network_is_one_clear_error(tmp_path: Path, npz: bytes) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, output = download("dsprites", tmp_path / "data", "--mirror", f"http://127.0.0.1:{port}")
    assert code == 1
    assert f"could not reach 127.0.0.1:{port} for http://127.0.0.1:{port}{PATH}" in output
    assert f"put the file at {tmp_path / 'data' / DSPRITES_FILE}" in output
    assert "Traceback" not in output


def test_a_root_that_holds_the_data_downloads_nothing(
    tmp_path: Path, server: Loopback, npz: bytes
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / DSPRITES_FILE).write_bytes(npz)
    code, output = download("dsprites", root, "--mirror", server.url)
    assert code == 0, output
    assert server.requests == []
    assert f"{root / DSPRITES_FILE}: already there, verified" in output


def test_a_different_file_already_there_is_left_alone(
    tmp_path: Path, server: Loopback, npz: bytes
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / DSPRITES_FILE).write_bytes(b"mine")
    code, output = download("dsprites", root, "--mirror", server.url)
    assert code == 1
    assert "is already there but is not the published file" in output and md5(b"mine") in output
    assert (root / DSPRITES_FILE).read_bytes() == b"mine" and server.requests == []


def test_unknown_name_and_bad_mirror(tmp_path: Path) -> None:
    code, output = download("dsprite", tmp_path)
    assert code == 1 and "Did you mean 'dsprites'?" in output
    code, output = download("dsprites", tmp_path, "--mirror", "mirror.example.org")
    assert code == 2 and "give a base URL" in output
    assert not tmp_path.joinpath("dsprites").exists() and files_under(tmp_path) == []


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_missing_files_name_the_download_command(name: str, tmp_path: Path) -> None:
    spec = host.datasets.get(name).spec_model()(type=name, root=str(tmp_path))
    with pytest.raises(Exception, match=r"not found|no ") as info:
        host.datasets.build(spec).load()
    assert f"disentangle data download {name} --root {tmp_path}" in str(info.value)
    assert "Getting data" in str(info.value)


# --- Fashion-MNIST end to end: Debian's real files, the real table ----------------------------

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_from_debian_s_files_downloads_verified_and_trains(
    tmp_path: Path, server: Loopback
) -> None:
    for row in SHIPPED["fashion_mnist"].files:
        server.files[served_path(row.url)] = (DEBIAN / row.filename).read_bytes()
    root = tmp_path / "data"
    code, output = download("fashion_mnist", root, "--mirror", server.url)
    assert code == 0, output
    assert "fashion_mnist: 60000 images of 1×28×28 load from" in output
    assert "could not verify" not in output
    sets = {"dataset.root": str(root), "train.iterations": 2, "train.batch_size": 8,
            "backbone.width": 0.125, "train.log_every": 1, "train.checkpoint_every": 2,
            "train.sample_every": 2, "images.samples": 4, "images.traversal_rows": 2,
            "images.traversal_steps": 3}  # fmt: skip
    flags = [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]
    recipe = Path(__file__).resolve().parents[3] / "recipes" / "fashion_mnist.toml"
    run = tmp_path / "run"
    result = runner.invoke(app, ["run", str(recipe), *flags, "--out", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    assert len((run / "metrics.jsonl").read_text().splitlines()) >= 2


def test_a_run_whose_files_are_missing_names_the_command(tmp_path: Path) -> None:
    recipe = Path(__file__).resolve().parents[3] / "recipes" / "fashion_mnist.toml"
    empty = tmp_path / "empty"
    argv = ["run", str(recipe), "--set", f"dataset.root={empty}", "--out", str(tmp_path / "r")]
    result = runner.invoke(app, argv, env={"COLUMNS": "1000"})
    assert result.exit_code == 1
    assert f"disentangle data download fashion_mnist --root {empty}" in result.output
    assert not (tmp_path / "r").exists()
