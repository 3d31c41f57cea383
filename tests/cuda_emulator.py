"""CUDA kernels' own source run on the CPU: a stand-in for ``cupy.RawModule`` over NumPy arrays.

:class:`CpuModule` compiles a kernel source with ``tests/cuda_shim.h`` (warps of 32 coroutine lanes that
meet at every shuffle, ballot and ``__syncwarp``) by g++, and :meth:`CpuModule.get_function` gives
kernels called as CuPy calls them: ``kernel(grid, block, args, shared_mem=...)``. Each call checks every
argument against the kernel's parameter list as a GPU launch would need it (arrays C-contiguous of the
pointee's dtype, values NumPy scalars of the parameter's exact type: CuPy passes a NumPy scalar by value at
its own size, so a Python int would reach a ``long long`` parameter right but an ``int`` one wrong).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

CXX = shutil.which("g++") or shutil.which("c++")
SHIM = Path(__file__).with_name("cuda_shim.h")

# CUDA parameter types -> the NumPy dtype a pointer's array must have, or the NumPy scalar type and ctypes
# type a value is passed as.
_POINTEES = {"float": np.float32, "double": np.float64, "int": np.int32, "long long": np.int64,
             "unsigned long long": np.uint64, "u64": np.uint64}
_VALUES = {"float": (np.float32, ctypes.c_float), "double": (np.float64, ctypes.c_double),
           "int": (np.int32, ctypes.c_int), "long long": (np.int64, ctypes.c_longlong),
           "unsigned long long": (np.uint64, ctypes.c_ulonglong), "u64": (np.uint64, ctypes.c_ulonglong)}
_DECORATIONS = re.compile(r"\b(const|__restrict__)\b")


def _expand(source: str) -> str:
    """The source with its parameter macros (``#define NAME ... `` ending in ``\\``-continued lines) expanded
    where a kernel's parameter list names one, so that the parameters can be read."""
    macros = dict(re.findall(r"#define (\w+)\s*\\\n((?:.*\\\n)*.*)", source))
    for name, text in macros.items():
        source = source.replace(f"({name})", "(" + re.sub(r"\\\n", " ", text) + ")")
    return source


def parameters(source: str, name: str) -> list:
    """``[(type, name), ...]`` of kernel ``name`` in ``source``."""
    found = re.search(r'extern "C" __global__ void (?:__launch_bounds__\([^)]*\) )?' + name + r"\(([^)]*)\)",
                      _expand(source))
    if found is None:
        raise KeyError(f"no kernel {name} in the source")
    params = []
    for param in found.group(1).split(","):
        param = " ".join(_DECORATIONS.sub(" ", param).split())
        kind, arg = re.match(r"(.*?)\s*(\w+)$", param).groups()
        params.append((kind.replace(" *", "*").strip(), arg))
    return params


class CpuKernel:
    """One kernel of a :class:`CpuModule`, called like a ``cupy.RawKernel``."""

    def __init__(self, module: "CpuModule", name: str):
        self.name = name
        self.params = parameters(module.code, name)
        self.run = getattr(module.library, f"emu_{name}")
        self.run.restype = ctypes.c_int
        self.module = module
        self.max_dynamic_shared_size_bytes = 48 * 1024
        self.launches = 0

    def __call__(self, grid, block, args, shared_mem=0):
        assert len(args) == len(self.params), f"{self.name}: {len(args)} arguments for {len(self.params)}"
        assert shared_mem <= self.max_dynamic_shared_size_bytes, f"{self.name}: {shared_mem} bytes of shared memory"
        converted = []
        for (kind, arg), value in zip(self.params, args):
            base = kind.rstrip("*").strip()
            if kind.endswith("*"):
                assert isinstance(value, np.ndarray) and value.dtype == _POINTEES[base] \
                    and value.flags.c_contiguous, f"{self.name}: {arg} must be a C-contiguous {base} array"
                converted.append(ctypes.c_void_p(value.ctypes.data))
            else:
                scalar, ctype = _VALUES[base]
                assert type(value) is scalar, f"{self.name}: {arg} must be {scalar.__name__}, got {type(value)}"
                converted.append(ctype(value))
        (blocks,), (threads,) = grid, block
        self.launches += 1
        if self.run(ctypes.c_longlong(int(blocks)), ctypes.c_longlong(int(threads)), ctypes.c_longlong(int(shared_mem)),
                    ctypes.c_int(int(self.module.interleave)), *converted):
            raise RuntimeError(f"{self.name}: {self.module.library.emu_error().decode()}")


class CpuModule:
    """``cupy.RawModule(code=..., options=...)`` on the CPU: ``-D`` options become g++'s; others are the
    GPU compiler's and are ignored. With ``interleave`` every warp of a launch advances one collective in
    turn; else warps run one after another (as one stream after another)."""

    folder = None                                          # where libraries are built; a temporary folder if unset
    _built: dict = {}

    def __init__(self, code: str, options: tuple = (), interleave: bool = False):
        if CXX is None:
            raise RuntimeError("no C++ compiler to run CUDA source on the CPU")
        self.code, self.interleave = code, interleave
        defines = [option for option in options if option.startswith("-D")]
        kernels = re.findall(r'extern "C" __global__ void (?:__launch_bounds__\([^)]*\) )?(\w+)\(', code)
        launchers = []
        for name in kernels:
            params = parameters(code, name)
            decl = ", ".join(f"{kind} {arg}" for kind, arg in params)
            call = ", ".join(arg for _, arg in params)
            launchers.append(f'extern "C" int emu_{name}(long long grid, long long block, long long shared, '
                             f'int interleave, {decl}) {{\n'
                             f"    return emu::launch(grid, block, shared, interleave, [&]() {{ {name}({call}); }});\n}}\n")
        text = (f'#include "{SHIM}"\ntypedef unsigned long long u64;\n' + code + "\n" + "".join(launchers)
                + 'extern "C" const char* emu_error() { return emu::error.c_str(); }\n')
        digest = hashlib.sha1((text + " ".join(defines)).encode()).hexdigest()[:16]
        if digest not in self._built:
            folder = Path(self.folder or tempfile.mkdtemp(prefix="nsw2v-emu-"))
            cpp, library = folder / f"kernels-{digest}.cpp", folder / f"kernels-{digest}.so"
            cpp.write_text(text)
            subprocess.run([CXX, "-std=c++17", "-O1", "-shared", "-fPIC", *defines, str(cpp), "-o", str(library)],
                           check=True)
            lib = ctypes.CDLL(str(library))
            lib.emu_error.restype = ctypes.c_char_p
            self._built[digest] = lib
        self.library = self._built[digest]
        self._kernels: dict = {}

    def get_function(self, name: str) -> CpuKernel:
        if name not in self._kernels:
            self._kernels[name] = CpuKernel(self, name)
        return self._kernels[name]


def cpu_modules(interleave: bool = False):
    """A ``raw_module(xp, code, options)`` that builds :class:`CpuModule` (for ``backend.raw_module``)."""
    return lambda xp, code, options=(): CpuModule(code, tuple(options), interleave)


__all__ = ["CXX", "CpuKernel", "CpuModule", "cpu_modules", "parameters"]
if os.environ.get("NSW2V_EMU_FOLDER"):
    CpuModule.folder = os.environ["NSW2V_EMU_FOLDER"]
