// Tessera's stand-in for NVIDIA's nvJitLink (soname libnvJitLink.so.13), preloaded by `tessera run` only for
// programs on simulated GPUs. It deliberately provides none of nvJitLink's functions: numba-cuda and cuda-core
// then treat nvJitLink as unavailable and link through the CUDA driver's cuLink* API, which hands Tessera's
// libcuda.so.1 PTX — the only code a simulated GPU runs (nvJitLink emits machine code only).
#include "CJitLinkStandIn.h"

const char tessera_jit_link_stand_in[] = "Tessera: nvJitLink is unavailable on simulated GPUs; the driver links PTX";
