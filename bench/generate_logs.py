"""Write realistic Lmod module-load logs for benchmarks, the same for one seed.

The log looks like a cluster's: thousands of users and hundreds of packages
whose popularity is skewed (a few are loaded all the time, most rarely),
about 600 compute nodes with a few login and GPU nodes, and loads that come
in short bursts, one burst per job or login, more often by day than by night.
Most lines have the documented shape; some carry a ``[pid]`` and a
``jobid=``, about 1% come from other daemons, about 0.1% are damaged records
and about 0.5% are a record logged twice. Use it as a module::

    from generate_logs import generate
    summary = generate(Path("big.log"), 1_000_000, seed=1)

or as a script::

    python bench/generate_logs.py big.log --lines 1000000 --seed 1 [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, BinaryIO, TypeVar, cast

T = TypeVar("T")


def words(text: str) -> list[str]:
    """The blank-separated words of a text: long name lists read easier so."""
    return text.split()


# Bumped whenever the output for a given seed changes, so caches notice.
GENERATOR_VERSION = 1

START_TIME = 1_735_689_600  # 2025-01-01 00:00:00 UTC
DAY = 86_400
# One month of loads per million lines, and never more than a year in all.
SECONDS_PER_LINE = 30 * DAY / 1_000_000
LONGEST_SPAN = 365 * DAY

DOMAIN = "cluster.example.org"
MODULE_ROOT = "/apps/modulefiles"
TAG = "ModuleUsageTracking"
USER_COUNT = 4_000
PACKAGE_COUNT = 300
COMPUTE_NODES = 600
GPU_NODES = 24
LOGIN_NODES = 4

UNRELATED_SHARE = 0.01
MALFORMED_SHARE = 0.001
REPEAT_SHARE = 0.005
PID_SHARE = 0.35
JOBID_SHARE = 0.5
INTERACTIVE_SHARE = 0.15

CHUNK_LINES = 50_000
MONTHS: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")
MONTHS += ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# How busy each hour of the day is, relative to the others (UTC).
HOURLY_ACTIVITY: tuple[int, ...] = (2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10)
HOURLY_ACTIVITY += (9, 10, 10, 10, 9, 8, 6, 5, 4, 4, 3, 3)
LOADS_PER_BURST = (1, 2, 3, 4, 5, 6, 8)
BURST_WEIGHTS = (35, 25, 17, 10, 7, 4, 2)

PACKAGES = words("""
gcc intel intel-oneapi-compilers intel-oneapi-mkl intel-oneapi-mpi nvhpc aocc
llvm clang cmake gmake ninja autoconf automake libtool pkgconf git git-lfs
subversion mercurial python miniconda3 anaconda3 mamba R julia perl ruby go
rust nodejs openjdk scala lua tcl openmpi mpich mvapich2 hpcx ucx libfabric
cuda cudnn nccl tensorrt hdf5 netcdf-c netcdf-fortran netcdf-cxx4 pnetcdf
parallel-netcdf adios2 silo zlib bzip2 xz zstd lz4 szip libaec openblas blis
lapack scalapack fftw petsc slepc trilinos hypre mumps superlu superlu-dist
metis parmetis scotch suitesparse eigen boost gsl arpack-ng elpa magma kokkos
raja umpire gromacs lammps namd amber cp2k quantum-espresso vasp abinit
siesta nwchem orca gaussian molpro psi4 openmolcas cpmd dftbplus plumed
openfoam su2 code-saturne paraview visit vtk ovito vmd pymol chimerax blender
ffmpeg imagemagick gnuplot grace octave matlab mathematica maple sagemath
comsol ansys abaqus star-ccm lsdyna fluent samtools bcftools htslib bwa
bowtie2 hisat2 star salmon kallisto trimmomatic fastqc multiqc picard gatk
bedtools blast-plus diamond hmmer mafft muscle clustal-omega iqtree raxml-ng
mrbayes beast2 spades megahit trinity canu flye minimap2 nextflow snakemake
cromwell singularity apptainer podman valgrind gdb ddt totalview vtune
advisor likwid papi tau scorep scalasca hpctoolkit darshan ior mdtest fio
htop tmux screen vim emacs nano parallel rclone rsync curl wget sqlite
postgresql mariadb-client libxml2 libpng libjpeg-turbo libtiff proj gdal geos
udunits nco cdo ncview ncl esmf wrf cesm mpas-model
""")
PYTHON_LIBRARIES = words("""
numpy scipy pandas matplotlib seaborn scikit-learn scikit-image torch
torchvision tensorflow keras jax jaxlib mpi4py h5py netcdf4 xarray dask
numba cython pybind11 sympy networkx biopython pysam astropy statsmodels
jupyterlab notebook ipython pytest setuptools pip virtualenv pyyaml requests
pillow opencv-python transformers datasets accelerate lightning
""")
R_LIBRARIES = words("""
ggplot2 dplyr tidyr data-table rcpp shiny rmarkdown knitr devtools
bioconductor deseq2 edger limma seurat lme4 caret randomforest xgboost
""")
LIBRARIES = words("""
libevent libffi libiconv ncurses readline openssl pcre2 expat freetype
fontconfig harfbuzz cairo pango glib gettext libuuid libedit libyaml
""")

FIRST_NAMES = words("""
anna ben carla david elena farid grace hugo ines jonas kira liam maria nils
olga pedro qing rosa sven tara umar vera wei xenia yusuf zoe
""")
SURNAMES = words("""
smith garcia muller rossi novak kowalski ivanova nguyen kim tanaka silva
martin bernard larsen jensen fischer weber schmidt moreau dubois costa
santos oliveira hansen berg lindqvist petrov sato chen wang
""")

UNRELATED_MESSAGES = (
    "sshd[{pid}]: Accepted publickey for {user} from 10.{a}.{b}.{c} port {port}"
    " ssh2: ED25519 SHA256:q8pZ7kTn0v3YbW2mLxR4cJd6sHf9gA1eUo5iNy",
    "sshd[{pid}]: pam_unix(sshd:session): session opened for user {user} by (uid=0)",
    "sshd[{pid}]: Received disconnect from 10.{a}.{b}.{c} port {port}:11:"
    " disconnected by user",
    "crond[{pid}]: (root) CMD (/usr/lib64/sa/sa1 1 1)",
    "CROND[{pid}]: ({user}) CMD (/home/{user}/bin/sync-results.sh)",
    "systemd[1]: Started Session {port} of User {user}.",
    "systemd-logind[{pid}]: Removed session {port}.",
    "kernel: nfs: server storage{a} not responding, still trying",
    "slurmd[{pid}]: launch task StepId={port}.0 request from UID:{pid}",
)


@dataclass
class GeneratedLog:
    """What one generated file holds, line by line, to check ingest counts."""

    path: str
    seed: int
    lines: int = 0
    records: int = 0
    repeated: int = 0
    unrelated: int = 0
    empty_user: int = 0
    bad_time: int = 0
    truncated: int = 0
    first_time: int = 0
    last_time: int = 0
    size_bytes: int = 0
    version: int = GENERATOR_VERSION

    @property
    def malformed(self) -> int:
        """Damaged record lines of all kinds."""
        return self.empty_user + self.bad_time + self.truncated

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class Host:
    """One node: the short name of the syslog header and the host= field."""

    name: str
    field: str


@dataclass
class Catalogue:
    """Who, what and where a log talks about, with popularity weights."""

    users: list[str]
    user_weights: list[float]
    modules: list[str]
    module_weights: list[float]
    compute: list[Host]
    gpu: list[Host]
    login: list[Host]


def zipf_weights(count: int, exponent: float) -> list[float]:
    """Weights proportional to 1 / rank**exponent for ranks 1..count."""
    return [1.0 / rank**exponent for rank in range(1, count + 1)]


def draws(
    rng: random.Random, items: Sequence[T], weights: Sequence[float]
) -> Iterator[T]:
    """Endless weighted draws, made a block at a time because that is faster."""
    cumulative = list(itertools.accumulate(weights))
    while True:
        yield from rng.choices(items, cum_weights=cumulative, k=20_000)


def build_users(rng: random.Random) -> list[str]:
    """About 4,000 distinct user names: mostly u12345, some real-looking."""
    names = {"root", "hpcadmin"}
    while len(names) < USER_COUNT // 10:
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        names.add(f"{first[0]}{last}" if rng.random() < 0.7 else f"{first}.{last}")
    while len(names) < USER_COUNT:
        names.add(f"u{rng.randrange(10_000, 99_999)}")

    ordered = sorted(names)
    rng.shuffle(ordered)
    return ordered


def build_package_names() -> list[str]:
    """About 300 package names: tools, compilers, and Python/R/C libraries."""
    names = list(PACKAGES)
    names += [f"py-{name}" for name in PYTHON_LIBRARIES]
    names += [f"r-{name}" for name in R_LIBRARIES]
    names += LIBRARIES
    return names[:PACKAGE_COUNT]


def build_versions(rng: random.Random) -> list[str]:
    """One to eight increasing versions in one of three common styles."""
    count = rng.choices(range(1, 9), weights=(20, 20, 16, 12, 10, 8, 7, 7))[0]
    style = rng.choices(("semver", "year", "short"), weights=(75, 10, 15))[0]
    major, minor, patch = rng.randrange(1, 13), rng.randrange(10), 0
    year = rng.randrange(2015, 2022)
    versions = []

    for index in range(count):
        if style == "year":
            versions.append(f"{year + index}.{rng.randrange(4)}")
        elif style == "short":
            versions.append(f"{major}.{minor + index}")
        else:
            versions.append(f"{major}.{minor}.{patch}")
            major, minor, patch = next_release(rng, major, minor, patch)

    return versions


def next_release(
    rng: random.Random, major: int, minor: int, patch: int
) -> tuple[int, int, int]:
    """The release after major.minor.patch: mostly patches, now and then more."""
    step = rng.random()
    if step < 0.5:
        return major, minor, patch + rng.randrange(1, 3)
    if step < 0.85:
        return major, minor + 1, 0
    return major + 1, 0, 0


def build_modules(rng: random.Random) -> tuple[list[str], list[float]]:
    """Module and path fields of every version, weighted by popularity.

    Packages follow Zipf's law in a shuffled order; within a package the
    newest version is the most loaded, older ones less and less.
    """
    names = build_package_names()
    rng.shuffle(names)
    modules, weights = [], []

    for package, package_weight in zip(
        names, zipf_weights(len(names), 1.0), strict=True
    ):
        versions = build_versions(rng)
        version_weights = zipf_weights(len(versions), 1.5)
        for version, version_weight in zip(
            reversed(versions), version_weights, strict=True
        ):
            module = f"{package}/{version}"
            modules.append(f"module={module} path={MODULE_ROOT}/{module}.lua")
            weights.append(package_weight * version_weight)

    return modules, weights


def build_hosts(prefix: str, count: int, digits: int) -> list[Host]:
    """Nodes named prefix0001.., with their fully qualified host= field."""
    names = [f"{prefix}{number:0{digits}d}" for number in range(1, count + 1)]
    return [Host(name, f"host={name}.{DOMAIN}") for name in names]


def build_catalogue(rng: random.Random) -> Catalogue:
    """Users, modules and hosts of one imaginary cluster."""
    users = build_users(rng)
    modules, module_weights = build_modules(rng)
    return Catalogue(
        users=[f"user={name}" for name in users],
        user_weights=zipf_weights(len(users), 1.0),
        modules=modules,
        module_weights=module_weights,
        compute=build_hosts("cn", COMPUTE_NODES, 4),
        gpu=build_hosts("gpu", GPU_NODES, 3),
        login=build_hosts("login", LOGIN_NODES, 2),
    )


def mean_burst_size() -> float:
    """How many loads a burst has on average."""
    pairs = zip(LOADS_PER_BURST, BURST_WEIGHTS, strict=True)
    total = sum(size * weight for size, weight in pairs)
    return total / sum(BURST_WEIGHTS)


def hourly_gap_factors() -> list[float]:
    """Per hour, how much longer than average the pause between bursts is.

    Scaling each pause by mean activity / the hour's activity keeps the
    average pause, so the span of the log comes out as planned.
    """
    mean = sum(HOURLY_ACTIVITY) / len(HOURLY_ACTIVITY)
    return [mean / activity for activity in HOURLY_ACTIVITY]


@dataclass
class Burst:
    """Loads by one user on one node in quick succession: a job or a login."""

    user: str
    host: Host
    job: str | None
    with_pid: bool


class LogBuilder:
    """Makes the lines of one log, burst after burst, in time order."""

    def __init__(self, rng: random.Random, summary: GeneratedLog, target: int):
        self.rng = rng
        self.summary = summary
        self.target = target
        self.chunk: list[str] = []

        catalogue = build_catalogue(rng)
        self.catalogue = catalogue
        self.users = draws(rng, catalogue.users, catalogue.user_weights)
        self.modules = draws(rng, catalogue.modules, catalogue.module_weights)
        self.burst_sizes = draws(rng, LOADS_PER_BURST, BURST_WEIGHTS)

        self.clock = START_TIME * 1_000_000 + rng.randrange(60_000_000)
        self.next_job = 4_400_000
        self.day_prefixes: dict[int, str] = {}
        self.clock_texts = [
            time.strftime("%H:%M:%S", time.gmtime(second)) for second in range(DAY)
        ]
        self.gap_factors = hourly_gap_factors()
        span = min(target * SECONDS_PER_LINE, LONGEST_SPAN)
        self.mean_gap = span * 1_000_000 * mean_burst_size() / max(target, 1)

    def full(self) -> bool:
        """Whether the log has all the lines it was asked for."""
        return self.summary.lines >= self.target

    def emit(self, line: str) -> bool:
        """Add one line unless the log is full; say whether it was added."""
        if self.full():
            return False
        self.chunk.append(line)
        self.summary.lines += 1
        return True

    def take_chunk(self) -> list[str]:
        """The lines made since the last call, to be written out."""
        chunk, self.chunk = self.chunk, []
        return chunk

    def header(self, host: str, process: str) -> str:
        """The RFC 3164 header for the current time, in UTC."""
        second = self.clock // 1_000_000
        day = second // DAY
        prefix = self.day_prefixes.get(day)
        if prefix is None:
            stamp = time.gmtime(second)
            prefix = f"{MONTHS[stamp.tm_mon - 1]} {stamp.tm_mday:2d} "
            self.day_prefixes[day] = prefix
        return f"{prefix}{self.clock_texts[second % DAY]} {host} {process}: "

    def add_burst(self) -> None:
        """Add the lines of one burst of loads, then pause until the next one."""
        burst = self.new_burst()
        for _ in range(next(self.burst_sizes)):
            self.add_load(burst)
            self.clock += self.rng.randrange(1_000, 300_000)

        hour = self.clock // 3_600_000_000 % 24
        pause = self.rng.expovariate(1.0) * self.mean_gap * self.gap_factors[hour]
        self.clock += int(pause)

    def new_burst(self) -> Burst:
        """Pick who loads modules where: a login, a GPU job or a batch job."""
        rng, catalogue = self.rng, self.catalogue
        job: str | None
        kind = rng.random()
        if kind < 0.2:
            host, job = rng.choice(catalogue.login), "nil"
        else:
            nodes = catalogue.gpu if kind < 0.3 else catalogue.compute
            host, job = rng.choice(nodes), str(self.next_job)
            self.next_job += rng.randrange(1, 40)
            if rng.random() < INTERACTIVE_SHARE:
                job = "interactive"

        if rng.random() >= JOBID_SHARE:
            job = None
        return Burst(next(self.users), host, job, rng.random() < PID_SHARE)

    def add_load(self, burst: Burst) -> None:
        """Add one load record, sometimes after a stray line, damaged or twice."""
        rng = self.rng
        if rng.random() < UNRELATED_SHARE and self.emit(self.unrelated_line()):
            self.summary.unrelated += 1

        line = self.record_line(burst)
        if rng.random() < MALFORMED_SHARE:
            self.add_damaged(line, burst.user)
            return

        if self.emit(line):
            self.summary.records += 1
            self.summary.last_time = self.clock // 1_000_000
        if rng.random() < REPEAT_SHARE and self.emit(line):
            self.summary.repeated += 1

    def record_line(self, burst: Burst) -> str:
        """A load record of the documented shape, with the optional extras."""
        process = (
            f"{TAG}[{self.rng.randrange(1_000, 400_000)}]" if burst.with_pid else TAG
        )
        host = burst.host
        job = f" jobid={burst.job}" if burst.job is not None else ""
        seconds, micro = divmod(self.clock, 1_000_000)
        return (
            f"{self.header(host.name, process)}{burst.user} {next(self.modules)} "
            f"{host.field}{job} time={seconds}.{micro:06d}"
        )

    def add_damaged(self, line: str, user: str) -> None:
        """Add a spoilt record: empty user, a time that is no number, or cut."""
        kind = self.rng.randrange(3)
        if kind == 0:
            if self.emit(line.replace(user, "user=", 1)):
                self.summary.empty_user += 1
        elif kind == 1:
            if self.emit(line[: line.rindex("time=")] + "time=abc"):
                self.summary.bad_time += 1
        else:
            start = line.index(": ") + 2
            if self.emit(line[: self.rng.randrange(start + 1, len(line) - 1)]):
                self.summary.truncated += 1

    def unrelated_line(self) -> str:
        """A line from another daemon on some node, at the current time."""
        rng = self.rng
        host = rng.choice(self.catalogue.compute + self.catalogue.login)
        message = rng.choice(UNRELATED_MESSAGES).format(
            pid=rng.randrange(300, 400_000),
            user=next(self.users).removeprefix("user="),
            a=rng.randrange(1, 255),
            b=rng.randrange(255),
            c=rng.randrange(1, 255),
            port=rng.randrange(1_024, 65_535),
        )
        process, text = message.split(": ", 1)
        return self.header(host.name, process) + text


@contextmanager
def open_output(path: Path, name: str, compress: bool) -> Iterator[IO[str]]:
    """A text stream into ``path``, gzip-compressed if asked.

    The gzip header names ``name`` and carries no time stamp, so the file
    is byte for byte the same for a seed.
    """
    with open(path, "wb") as raw:
        stream: BinaryIO = raw
        if compress:
            stream = cast(BinaryIO, gzip.GzipFile(name, "wb", 6, raw, mtime=0))
        with io.TextIOWrapper(stream, encoding="utf-8", newline="\n") as text:
            yield text


def generate(
    path: Path | str, lines: int, seed: int = 1, compress: bool = False
) -> GeneratedLog:
    """Write a log of exactly ``lines`` lines to ``path`` and describe it.

    The file appears whole or not at all: it is written beside ``path``
    first and renamed, so an interrupted run leaves no half file to reuse.
    """
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    summary = GeneratedLog(path=str(target), seed=seed, first_time=START_TIME)
    builder = LogBuilder(random.Random(seed), summary, lines)

    with open_output(partial, target.name, compress) as out:
        while not builder.full():
            builder.add_burst()
            if len(builder.chunk) >= CHUNK_LINES or builder.full():
                out.write("\n".join(builder.take_chunk()) + "\n")

    partial.replace(target)
    summary.size_bytes = target.stat().st_size
    return summary


def parse_count(text: str) -> int:
    """A line count such as 1000000, 100k or 1M."""
    multipliers = {"k": 1_000, "m": 1_000_000}
    suffix = text[-1:].lower()
    if suffix in multipliers:
        return int(float(text[:-1]) * multipliers[suffix])
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate one log file and say on standard error what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="file to write")
    parser.add_argument(
        "--lines", type=parse_count, default=1_000_000, help="e.g. 100k, 1M"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--gzip", action="store_true", help="compress (also when OUT ends in .gz)"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    compress = args.gzip or args.out.suffix == ".gz"
    summary = generate(args.out, args.lines, args.seed, compress)
    seconds = time.perf_counter() - started

    print(
        f"{summary.path}: {summary.lines:,} lines ({summary.records:,} records, "
        f"{summary.repeated:,} repeated, {summary.unrelated:,} unrelated, "
        f"{summary.malformed:,} malformed) in {seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
