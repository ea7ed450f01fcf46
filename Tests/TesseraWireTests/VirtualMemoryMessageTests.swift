import Testing
@testable import TesseraWire

@Suite struct VirtualMemoryMessageTests {
    @Test func everyOperationRoundTrips() throws {
        let operations: [VirtualMemoryOperation] = [
            .granularity, .reserve(size: 4 << 20, alignment: 0, hint: 0x7000_0000_0000), .free(address: 0xA000, size: 2 << 20),
            .create(size: 2 << 20), .release(handle: 7), .map(address: 0xA000, size: 2 << 20, offset: 0, handle: 7),
            .unmap(address: 0xA000, size: 2 << 20), .setAccess(address: 0xA000, size: 2 << 20, flags: 3),
            .getAccess(address: 0xA010), .retain(address: 0xA020),
        ]
        for operation in operations {
            let m = VirtualMemoryRequest(device: 1, operation: operation)
            var w = WireWriter()
            m.encode(into: &w)
            #expect(try w.bytes.withUnsafeBytes { try VirtualMemoryRequest.decode($0) } == m)
            for cut in 0..<w.bytes.count {
                let prefix = Array(w.bytes.prefix(cut))
                #expect(throws: WireError.self) { try prefix.withUnsafeBytes { try VirtualMemoryRequest.decode($0) } }
            }
        }
        // An unknown operation is malformed, not a crash.
        let unknown: [UInt8] = [0, 0, 0, 0, 42]
        #expect(throws: WireError.self) { try unknown.withUnsafeBytes { try VirtualMemoryRequest.decode($0) } }
    }

    /// An empty status request (older clients) asks for the whole node; a trailing 1 for the caller's sessions.
    @Test func statusRequestScope() throws {
        let empty: [UInt8] = []
        #expect(try empty.withUnsafeBytes { try NodeStatusRequest.decode($0) }.callerOnly == false)
        var w = WireWriter()
        NodeStatusRequest(callerOnly: true).encode(into: &w)
        #expect(w.bytes == [1])
        #expect(try w.bytes.withUnsafeBytes { try NodeStatusRequest.decode($0) }.callerOnly)
    }
}
