# The Tessera image: the `tessera` binary (node daemon, scheduler extender, controller) and the drop-in CUDA
# runtime and driver libraries (libcudart.so.13/.12, libcuda.so.1), which the node DaemonSet copies to the host
# for the device plugin to mount into pods; ptx-only/ holds the nvJitLink stand-in that pods on simulated GPUs
# preload (see VirtualGPUEnvironment.ptxClientSettings).
#   docker build -t ghcr.io/tessera-gpu/tessera:0.1.0 .
FROM swift:6.3-noble AS build
RUN apt-get update && apt-get install -y --no-install-recommends libzstd-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
COPY Tests Tests
COPY bench bench
RUN swift build -c release --product tessera --static-swift-stdlib \
 && swift build -c release --product TesseraCudart13 \
 && swift build -c release --product TesseraCudart12 \
 && swift build -c release --product TesseraCuda \
 && swift build -c release --product TesseraJitLinkStandIn \
 && mkdir -p /out/bin /out/lib/ptx-only \
 && cp .build/release/tessera /out/bin/ \
 && cp .build/release/libTesseraCudart13.so /out/lib/libcudart.so.13 \
 && cp .build/release/libTesseraCudart12.so /out/lib/libcudart.so.12 \
 && cp .build/release/libTesseraCuda.so /out/lib/libcuda.so.1 \
 && cp .build/release/libTesseraJitLinkStandIn.so /out/lib/ptx-only/libnvJitLink.so.13

FROM ubuntu:24.04
RUN apt-get update && apt-get install -y --no-install-recommends libzstd1 ca-certificates libcurl4 libxml2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/bin/tessera /usr/local/bin/tessera
COPY --from=build /out/lib/ /opt/tessera/lib/
ENTRYPOINT ["/usr/local/bin/tessera"]
