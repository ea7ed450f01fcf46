"""Executes a real notebook with nbclient on a kernel that runs under Tessera, and checks the `%tessera` magics.

Usage: notebook_check.py TESSERA ENDPOINT MEMORY_MIB. Writes a kernelspec whose kernel is started by
`tessera run` (as a JupyterHub image's kernel would be), builds the notebook with nbformat and runs it: the
kernel loads the extension, computes with CuPy, shows `%tessera`, pages its memory out with `%tessera
release`, shows `%tessera` again (paged), then computes on the same arrays (paged back in) and checks them.
Prints the `%tessera` outputs and "notebook: all checks passed"; exits 1 on the first failure.
"""
import json
import os
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

tessera, endpoint, memory = sys.argv[1], sys.argv[2], int(sys.argv[3])
package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "tessera-jupyter")

home = tempfile.mkdtemp(prefix="tessera-notebook-")
spec = os.path.join(home, "kernels", "tessera")
os.makedirs(spec)
with open(os.path.join(spec, "kernel.json"), "w") as f:
    json.dump({
        "display_name": "Python 3 on a Tessera vGPU",
        "language": "python",
        "argv": [tessera, "run", "--endpoint", endpoint, "--memory", f"{memory}MiB", "--compute", "50", "--",
                 sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "env": {"PYTHONPATH": os.path.abspath(package), "TESSERA_ENDPOINT": endpoint},
    }, f)
os.environ["JUPYTER_PATH"] = home
os.environ["JUPYTER_DATA_DIR"] = home

cells = [
    "%load_ext tessera",
    "import cupy as cp\n"
    "x = cp.arange(4 * 1024 * 1024, dtype=cp.float32)  # 16 MiB\n"
    "y = cp.sqrt(x) * 2\n"
    "print('sum', float(y[:1000].sum()))",
    "%tessera",
    "%tessera release",
    "%tessera",
    "z = y + x  # the next CUDA call pages the arrays back in at their addresses\n"
    "import numpy as np\n"
    "host = cp.asnumpy(z)\n"
    "ref = np.sqrt(np.arange(4 * 1024 * 1024, dtype=np.float32)) * 2 + np.arange(4 * 1024 * 1024, dtype=np.float32)\n"
    "print('intact', bool(np.allclose(host, ref)))",
    "%tessera",
    "import os, types, tessera\n"
    "# As in a container: the pid the extension's process sees is not the node's (only the extension's view is\n"
    "# changed; the kernel's own machinery needs its real pid).\n"
    "tessera.os = tessera.node.os = types.SimpleNamespace(getpid=lambda: 1, environ=os.environ)\n"
    "%tessera",
]
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
client = NotebookClient(nb, kernel_name="tessera", timeout=600, startup_timeout=300)
client.execute()


def text(i):
    return "".join(o.get("text", "") for o in nb.cells[i].outputs if o.get("output_type") == "stream")


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
    if not ok:
        print(detail, flush=True)
        sys.exit(1)


for i, c in enumerate(nb.cells):
    errors = [o for o in c.outputs if o.get("output_type") == "error"]
    check(f"cell {i} ran without error", not errors, "\n".join("\n".join(e.get("traceback", [])) for e in errors))
print("--- %tessera (resident)\n" + text(2))
print("--- %tessera release\n" + text(3))
print("--- %tessera (paged)\n" + text(4))
print("--- %tessera (back)\n" + text(6))
check("CuPy computed", text(1).startswith("sum "), text(1))
check("%tessera shows a resident vGPU with its quota", "resident" in text(2) and f"/ {memory} MiB" in text(2), text(2))
check("%tessera release paged memory out", text(3).startswith("paged out ") and "of 1 session" in text(3), text(3))
check("%tessera shows the vGPU paged", " paged" in text(4) and "paged out 1×" in text(4), text(4))
check("the arrays came back intact", "intact True" in text(5), text(5))
check("%tessera shows it resident again after one page-in", "resident" in text(6) and "in 1×" in text(6), text(6))
check("%tessera finds the kernel's vGPU by its connection, not by its pid", "resident" in text(7) and f"/ {memory} MiB" in text(7), text(7))
print("notebook: all checks passed")
