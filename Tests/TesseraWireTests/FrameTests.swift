import Testing
@testable import TesseraWire

@Suite struct FrameTests {
    @Test func headerRoundTrips() throws {
        var bytes = [UInt8](repeating: 0, count: 16)
        let h = FrameHeader(opcode: .launchKernel, flags: .replyExpected, bodyLength: 1234, requestID: 0xDEAD_BEEF_0000_0001)
        bytes.withUnsafeMutableBytes { h.encode(to: $0.baseAddress!) }
        let back = try bytes.withUnsafeBytes { try FrameHeader.decode($0, maxBody: 4096) }
        #expect(back == h)
    }

    @Test func headerRejectsWhatItShould() throws {
        func decode(_ bytes: [UInt8], maxBody: Int = 4096) throws(WireError) -> FrameHeader {
            let r = bytes.withUnsafeBytes { b in Result { () throws(WireError) in try FrameHeader.decode(b, maxBody: maxBody) } }
            return try r.get()
        }
        var good = [UInt8](repeating: 0, count: 16)
        good.withUnsafeMutableBytes { FrameHeader(opcode: .free, bodyLength: 8, requestID: 1).encode(to: $0.baseAddress!) }
        _ = try decode(good)
        var badVersion = good; badVersion[0] = 9
        #expect(throws: WireError.self) { try decode(badVersion) }
        var badFlags = good; badFlags[1] = 0x80
        #expect(throws: WireError.self) { try decode(badFlags) }
        var badOpcode = good; badOpcode[2] = 0xEE; badOpcode[3] = 0x7E
        #expect(throws: WireError.self) { try decode(badOpcode) }
        #expect(throws: WireError.self) { try decode(good, maxBody: 4) }
        #expect(throws: WireError.self) { try decode(Array(good.prefix(10))) }
    }

    @Test func frameBufferReassemblesSplitFrames() throws {
        var w = WireWriter()
        w.frame(Allocate(device: 1, size: 4096), flags: .replyExpected, requestID: 7)
        w.frame(Memset(device: 0, stream: 0x100, destination: 0xB00, value: 9, count: 64), requestID: 8)
        var buffer = FrameBuffer(maxBody: 1 << 20, initialCapacity: 8)
        defer { buffer.deallocate() }
        var frames: [(FrameHeader, [UInt8])] = []
        // Feed one byte at a time: frames appear exactly when complete.
        for b in w.bytes {
            [b].withUnsafeBytes { buffer.append($0) }
            while let (h, body) = try buffer.nextFrame() { frames.append((h, Array(body))) }
        }
        #expect(frames.count == 2)
        #expect(frames[0].0.opcode == .allocate && frames[0].0.requestID == 7 && frames[0].0.flags == .replyExpected)
        let a = try frames[0].1.withUnsafeBytes { try Allocate.decode($0) }
        #expect(a == Allocate(device: 1, size: 4096))
        let m = try frames[1].1.withUnsafeBytes { try Memset.decode($0) }
        #expect(m.count == 64 && m.value == 9 && m.stream == 0x100)
    }

    @Test func frameBufferRejectsOversizedBodiesBeforeBuffering() {
        var header = [UInt8](repeating: 0, count: 16)
        header.withUnsafeMutableBytes { FrameHeader(opcode: .loadModule, bodyLength: 1 << 30, requestID: 1).encode(to: $0.baseAddress!) }
        var buffer = FrameBuffer(maxBody: 1 << 20)
        defer { buffer.deallocate() }
        header.withUnsafeBytes { buffer.append($0) }
        #expect(throws: WireError.self) { try buffer.bytesNeeded() }
        #expect(throws: WireError.self) { try buffer.nextFrame() }
    }
}
