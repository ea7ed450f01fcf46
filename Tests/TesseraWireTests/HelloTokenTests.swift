import Testing
@testable import TesseraWire

/// The user token in the hello (extension version 2): it round-trips, a hello without one is the version-1
/// encoding the previous release reads, and bad tokens are malformed, never a different hello.
@Suite struct HelloTokenTests {
    func encoded(_ m: some WireMessage) -> [UInt8] {
        var w = WireWriter()
        m.encode(into: &w)
        return w.bytes
    }

    @Test func tokenRoundTripsAndStaysOutWhenAbsent() throws {
        let base = Hello(clientPID: 7, virtualGPUs: 1, memoryBytes: 64 << 20, computePercent: 5, programName: "vadd", sharesMemory: false,
                         acceptsRemoteDevices: true)
        var withToken = base
        withToken.token = "tsr_0123456789abcdef"
        let bytes = encoded(withToken)
        #expect(try bytes.withUnsafeBytes { try Hello.decode($0) } == withToken)
        // Without a token the extension is version 1, byte for byte what it was.
        let plain = encoded(base)
        #expect(bytes.count > plain.count)
        // The extension's version follows the first release's fields (magic, pid, 3 sizes, name, 2 flags).
        let versionAt = 4 + 4 + 8 * 3 + 4 + "vadd".utf8.count + 1 + 1
        #expect(Array(plain[versionAt..<versionAt + 2]) == [1, 0] && Array(bytes[versionAt..<versionAt + 2]) == [2, 0])
        #expect(try plain.withUnsafeBytes { try Hello.decode($0) }.token == nil)
        // An attaching hello carries the token after the credential.
        var attach = withToken
        attach.attach = AttachCredential(leaseID: "lease-1", secret: "s")
        attach.addressWindow = 1
        #expect(try encoded(attach).withUnsafeBytes { try Hello.decode($0) } == attach)
        // Every cut inside the token is an error.
        for cut in plain.count..<bytes.count {
            #expect(throws: WireError.self) { try Array(bytes.prefix(cut)).withUnsafeBytes { try Hello.decode($0) } }
        }
    }

    @Test func emptyAndOversizedTokensAreMalformed() {
        var hello = Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 1 << 20, computePercent: 1, programName: "x", sharesMemory: false)
        hello.token = ""
        #expect(throws: WireError.self) { try encoded(hello).withUnsafeBytes { try Hello.decode($0) } }
        hello.token = String(repeating: "t", count: Hello.maxTokenLength + 1)
        #expect(throws: WireError.self) { try encoded(hello).withUnsafeBytes { try Hello.decode($0) } }
        hello.token = String(repeating: "t", count: Hello.maxTokenLength)
        #expect((try? encoded(hello).withUnsafeBytes { try Hello.decode($0) })?.token?.count == Hello.maxTokenLength)
    }
}
