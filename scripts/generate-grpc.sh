#!/usr/bin/env bash
# Generates Swift code for the kubelet APIs in Protos/ (device plugin v1beta1, pod resources v1) into
# Sources/TesseraDevicePlugin/Generated/ (the module that links gRPC). Needs protoc (Debian:
# protobuf-compiler) and the two plugins, built
# once in a scratch folder outside the repository (slow, ~10 min):
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf  && swift build -c release --product protoc-gen-swift
#   git clone --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf && swift build -c release --product protoc-gen-grpc-swift-2
# then: PLUGINS=/path/to/folder/with/both scripts/generate-grpc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PLUGINS:?set PLUGINS to the folder holding protoc-gen-swift and protoc-gen-grpc-swift-2}"
OUT=Sources/TesseraDevicePlugin/Generated
mkdir -p "$OUT"
protoc --proto_path=Protos \
  --plugin=protoc-gen-swift="$PLUGINS/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift="$PLUGINS/protoc-gen-grpc-swift-2" \
  --swift_out="$OUT" --swift_opt=Visibility=Public \
  --grpc-swift_out="$OUT" --grpc-swift_opt=Visibility=Public,Client=true,Server=true \
  deviceplugin-v1beta1.proto podresources-v1.proto
echo "generated into $OUT"
