import Testing
@testable import TesseraWire

/// The hello extension for programs whose vGPUs span nodes: it round-trips, stays out of first-release
/// messages, and first-release peers' messages still decode.
@Suite struct RemoteDeviceMessageTests {
    let credential = AttachCredential(leaseID: "lease-7", secret: "0123456789abcdef0123456789abcdef")

    func encoded(_ m: some WireMessage) -> [UInt8] {
        var w = WireWriter()
        m.encode(into: &w)
        return w.bytes
    }

    @Test func helloExtensionRoundTrips() throws {
        let attach = Hello(clientPID: 9, virtualGPUs: 2, memoryBytes: 256 << 20, computePercent: 20, programName: "multigpu",
                           sharesMemory: false, computeMode: .limit, acceptsRemoteDevices: true, addressWindow: 3, deviceBase: 2,
                           attach: credential)
        let bytes = encoded(attach)
        #expect(try bytes.withUnsafeBytes { try Hello.decode($0) } == attach)
        // Every cut inside the extension is an error, never a different hello.
        let plain = encoded(Hello(clientPID: 9, virtualGPUs: 2, memoryBytes: 256 << 20, computePercent: 20, programName: "multigpu",
                                  sharesMemory: false, computeMode: .limit))
        for cut in plain.count + 1..<bytes.count {
            #expect(throws: WireError.self) { try Array(bytes.prefix(cut)).withUnsafeBytes { try Hello.decode($0) } }
        }
        #expect(throws: WireError.self) { try (bytes + [0]).withUnsafeBytes { try Hello.decode($0) } }
        // A home hello only says it accepts remote devices.
        let home = Hello(clientPID: 1, virtualGPUs: 3, memoryBytes: 1 << 20, computePercent: 1, programName: "p", sharesMemory: true,
                         acceptsRemoteDevices: true)
        #expect(try encoded(home).withUnsafeBytes { try Hello.decode($0) } == home)
    }

    @Test func firstReleaseHelloIsUnchanged() throws {
        // A hello with default extension fields encodes exactly as the first release did (no extension section),
        // so first-release nodes accept it; and it decodes with the defaults.
        let hello = Hello(clientPID: 4, virtualGPUs: 1, memoryBytes: 1 << 20, computePercent: 10, programName: "x", sharesMemory: false)
        let bytes = encoded(hello)
        #expect(bytes.count == 4 + 4 + 8 * 3 + 4 + 1 + 1 + 1)
        let back = try bytes.withUnsafeBytes { try Hello.decode($0) }
        #expect(!back.acceptsRemoteDevices && back.addressWindow == 0 && back.deviceBase == 0 && back.attach == nil)
    }

    @Test func helloExtensionBoundsAreChecked() {
        var tooFar = Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 1 << 20, computePercent: 10, programName: "x", sharesMemory: false,
                           addressWindow: WireProtocol.maxAddressWindow + 1)
        #expect(throws: WireError.self) { try encoded(tooFar).withUnsafeBytes { try Hello.decode($0) } }
        tooFar.addressWindow = 1
        tooFar.attach = AttachCredential(leaseID: "", secret: "s")
        #expect(throws: WireError.self) { try encoded(tooFar).withUnsafeBytes { try Hello.decode($0) } }
    }

    @Test func helloReplyCarriesRemoteGroups() throws {
        let group = RemoteDeviceGroup(endpoint: "10.0.0.2:7070", credential: credential, firstDevice: 1, count: 2, addressWindow: 1)
        let reply = HelloReply(sessionID: 12, devices: [], remote: [group])
        var w = WireWriter()
        reply.encode(into: &w)
        let back = try w.bytes.withUnsafeBytes { b in
            var r = WireReader(b)
            let v = try HelloReply(from: &r)
            try r.expectEnd()
            return v
        }
        #expect(back == reply && back.deviceCount == 2)
        // Without remote devices the reply is the first release's: an old client reads it, and a new client reads
        // an old node's reply with no remote groups.
        var w2 = WireWriter()
        HelloReply(sessionID: 1, devices: []).encode(into: &w2)
        #expect(w2.bytes.count == 8 + 4)
        // A group with no vGPUs, or more devices than a program may have, is malformed.
        var w3 = WireWriter()
        HelloReply(sessionID: 1, devices: [], remote: [RemoteDeviceGroup(endpoint: "h:1", credential: credential, firstDevice: 0, count: 0, addressWindow: 1)])
            .encode(into: &w3)
        #expect(throws: WireError.self) { try w3.bytes.withUnsafeBytes { b in var r = WireReader(b); _ = try HelloReply(from: &r) } }
        let many = (0..<2).map { i in RemoteDeviceGroup(endpoint: "h:1", credential: credential, firstDevice: i * 40, count: 40, addressWindow: i + 1) }
        var w4 = WireWriter()
        HelloReply(sessionID: 1, devices: [], remote: many).encode(into: &w4)
        #expect(throws: WireError.self) { try w4.bytes.withUnsafeBytes { b in var r = WireReader(b); _ = try HelloReply(from: &r) } }
    }
}
