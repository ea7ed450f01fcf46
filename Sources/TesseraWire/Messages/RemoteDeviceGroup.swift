/// vGPUs of a program on another node: where to reach it, the credential to attach with, and which of the
/// program's devices they are.
public struct RemoteDeviceGroup: Sendable, Hashable {
    /// `HOST:PORT` of the node's TCP listener.
    public var endpoint: String
    public var credential: AttachCredential
    /// The program's device index of the group's first vGPU.
    public var firstDevice: Int
    /// vGPUs in the group.
    public var count: Int
    /// The address window the client asks the node to allocate from.
    public var addressWindow: Int

    public init(endpoint: String, credential: AttachCredential, firstDevice: Int, count: Int, addressWindow: Int) {
        self.endpoint = endpoint
        self.credential = credential
        self.firstDevice = firstDevice
        self.count = count
        self.addressWindow = addressWindow
    }

    public func encode(into w: inout WireWriter) {
        w.string(endpoint)
        credential.encode(into: &w)
        w.size(firstDevice)
        w.size(count)
        w.size(addressWindow)
    }

    public init(from r: inout WireReader) throws(WireError) {
        endpoint = try r.string()
        credential = try AttachCredential(from: &r)
        firstDevice = try r.size(max: WireProtocol.maxVirtualGPUs)
        count = try r.size(max: WireProtocol.maxVirtualGPUs)
        addressWindow = try r.size(max: WireProtocol.maxAddressWindow)
        guard count >= 1, !endpoint.isEmpty else { throw WireError(.malformed, "a remote device group needs an endpoint and a vGPU") }
    }
}
