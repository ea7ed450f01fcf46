// A node is built over a device backend; everything above it (pool, Kubernetes, the executable) names the
// device types through TesseraNode.
@_exported import TesseraDevice
