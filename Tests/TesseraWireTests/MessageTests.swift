import Testing
@testable import TesseraWire

@Suite struct MessageTests {
    func roundTrip<M: WireMessage & Equatable>(_ m: M) throws {
        var w = WireWriter()
        m.encode(into: &w)
        let back = try w.bytes.withUnsafeBytes { try M.decode($0) }
        #expect(back == m)
        // Every strict prefix is truncated, never a crash or a wrong message.
        for cut in 0..<w.bytes.count {
            let prefix = Array(w.bytes.prefix(cut))
            #expect(throws: WireError.self) { try prefix.withUnsafeBytes { try M.decode($0) } }
        }
        // Trailing garbage is rejected.
        let longer = w.bytes + [0]
        #expect(throws: WireError.self) { try longer.withUnsafeBytes { try M.decode($0) } }
    }

    @Test func messagesRoundTrip() throws {
        try roundTrip(Hello(clientPID: 42, virtualGPUs: 2, memoryBytes: 512 << 20, computePercent: 25, programName: "vadd", sharesMemory: true))
        try roundTrip(Hello(clientPID: 7, virtualGPUs: 1, memoryBytes: 1 << 20, computePercent: 30, programName: "train", sharesMemory: false,
                            computeMode: .limit))
        try roundTrip(CopyToDevice(device: 1, stream: 0x101, destination: 0xB00_0000, count: 99, source: .region(3, offset: 4096)))
        try roundTrip(CopyFromDevice(device: 0, stream: 0, source: 0xB00_0000, count: 7, destination: .inline))
        try roundTrip(Copy2D(device: 0, stream: 5, direction: .deviceToHost, destination: 1, destinationPitch: 512, source: 2,
                             sourcePitch: 1024, width: 100, height: 3, host: .region(1, offset: 0)))
        try roundTrip(Memset2D(device: 0, stream: 0, destination: 0x1000, pitch: 512, value: 0xFF, width: 10, height: 10))
        try roundTrip(CreateStream(device: 0, flags: 1, priority: -3))
        try roundTrip(RecordEvent(device: 1, event: 0x100, stream: 0x101))
        try roundTrip(EventElapsedTime(start: 1, end: 2))
        try roundTrip(RegisterHostMemory(region: 9, size: 1 << 20))
        try roundTrip(RegisterHostMemory(region: 9, size: 1 << 20, address: 0x7F00_1234_0000))
        try roundTrip(SetLimit(device: 1, limit: SetLimit.printfFifoSize, value: 4096))
        try roundTrip(LaunchKernel(device: 0, module: 0x100, kernel: 2, grid: (8, 1, 1), block: (64, 1, 1), sharedMemoryBytes: 0,
                                   stream: 0, cooperative: true))
    }

    @Test func deviceOutputFramesCarryTheirChannel() throws {
        for output in [DeviceOutput(channel: .standardOutput, bytes: Array("[0, 1]:\t\tValue is:10\n".utf8)),
                       DeviceOutput(channel: .standardError, bytes: Array("x.cu:3: k: block: [0,0,0], thread: [1,0,0] Assertion `v` failed.\n".utf8))] {
            var w = WireWriter()
            output.encode(into: &w)
            let back = try w.bytes.withUnsafeBytes { b in
                var r = WireReader(b)
                return try DeviceOutput(from: &r)
            }
            #expect(back == output)
        }
        var bad = WireWriter()
        bad.u8(3)  // no such channel
        bad.blob([1, 2])
        #expect(throws: WireError.self) {
            try bad.bytes.withUnsafeBytes { b in
                var r = WireReader(b)
                _ = try DeviceOutput(from: &r)
            }
        }
        // Launch flags beyond the cooperative bit are refused.
        var launch = WireWriter()
        LaunchKernel(device: 0, module: 1, kernel: 0, grid: (1, 1, 1), block: (1, 1, 1), sharedMemoryBytes: 0, stream: 0).encode(into: &launch)
        var flagged = launch.bytes
        flagged[flagged.count - 4] = 0x02
        #expect(throws: WireError.self) { try flagged.withUnsafeBytes { try LaunchKernel.decode($0) } }
    }

    @Test func helloRejectsStrangers() {
        var w = WireWriter()
        Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 1 << 20, computePercent: 10, programName: "x", sharesMemory: false).encode(into: &w)
        var bytes = w.bytes
        bytes[0] ^= 0xFF  // wrong magic
        #expect(throws: WireError.self) { try bytes.withUnsafeBytes { try Hello.decode($0) } }
        var w2 = WireWriter()
        Hello(clientPID: 1, virtualGPUs: 1000, memoryBytes: 1 << 20, computePercent: 10, programName: "x", sharesMemory: false).encode(into: &w2)
        #expect(throws: WireError.self) { try w2.bytes.withUnsafeBytes { try Hello.decode($0) } }
    }

    @Test func repliesRoundTrip() throws {
        var w = WireWriter()
        let info = VirtualDeviceInfo(
            name: "GPU", uuid: Array(0..<16), totalMemory: 1 << 30, computePercent: 50, physicalIndex: 1, multiprocessorCount: 132,
            computeCapabilityMajor: 9, computeCapabilityMinor: 0, clockRateKHz: 1, memoryClockRateKHz: 2, memoryBusWidth: 3,
            l2CacheSize: 4, warpSize: 32, maxThreadsPerBlock: 1024, maxBlockDim: [1024, 1024, 64], maxGridDim: [1 << 31 - 1, 65535, 65535],
            sharedMemoryPerBlock: 48 << 10, sharedMemoryPerBlockOptin: 227 << 10, sharedMemoryPerMultiprocessor: 228 << 10,
            registersPerBlock: 65536, registersPerMultiprocessor: 65536, maxThreadsPerMultiprocessor: 2048,
            maxBlocksPerMultiprocessor: 32, totalConstantMemory: 65536, textureAlignment: 512, memoryPitch: 1 << 31 - 1, pciBusID: 7)
        ReplyHeader(status: .ok, deferred: ReplyStatus(.illegalAddress, "boom")).encode(into: &w)
        HelloReply(sessionID: 3, devices: [info, info]).encode(into: &w)
        var r = WireReader(w.bytes.withUnsafeBytes { $0 })
        let bytes = w.bytes
        try bytes.withUnsafeBytes { b in
            r = WireReader(b)
            let h = try ReplyHeader(from: &r)
            #expect(h.deferred.code == .illegalAddress && h.deferred.message == "boom" && h.deferred.code.isSticky)
            let hello = try HelloReply(from: &r)
            #expect(hello.devices == [info, info])
            try r.expectEnd()
        }
        let module = LoadModuleReply(module: 5, kernels: [KernelInfo(name: "_Z4vaddPKfS0_Pfi", parameters: [.init(offset: 0, size: 8), .init(offset: 24, size: 4)],
                                                                  staticSharedBytes: 0, localBytesPerThread: 0, constantBytes: 16,
                                                                  registersPerThread: 32, maxThreadsPerBlock: 1024, ptxVersion: 95, binaryVersion: 75)],
                                     variables: [VariableInfo(name: "hits", address: 0xB00, size: 4)])
        var w3 = WireWriter()
        module.encode(into: &w3)
        let back = try w3.bytes.withUnsafeBytes { b in var r = WireReader(b); return try LoadModuleReply(from: &r) }
        #expect(back == module)
        #expect(back.kernels[0].parameterBufferSize == 28)
    }

    @Test func nodeStatusCarriesPagingAndReadsOlderReplies() throws {
        let paging = SessionPagingStatus(state: .waitingForRoom, idleNanoseconds: 5, pagedBytes: 700 << 20, pageOuts: 2, pageIns: 1,
                                         lastPageOutNanoseconds: 7, lastPageInNanoseconds: 9, pageOutNanoseconds: 11,
                                         pageInNanoseconds: 13, pagedOutBytes: 17, pagedInBytes: 19)
        let status = NodeStatusReply(
            gpus: [GPUStatus(index: 0, name: "H100", totalMemory: 1 << 30, usedMemory: 0, grantedMemory: 1400 << 20,
                             grantedComputePercent: 10, simulated: true)],
            sessions: [SessionStatus(id: 1, programName: "a", pid: 2, uid: 3, gid: 4, peer: "unix", virtualGPUs: [], paging: paging),
                       SessionStatus(id: 2, programName: "b", pid: 5, uid: 3, gid: 4, peer: "unix", virtualGPUs: [])],
            pageIdleAfterMilliseconds: 1500, pagedBytesHeld: 700 << 20)
        var w = WireWriter()
        status.encode(into: &w)
        let back = try w.bytes.withUnsafeBytes { b in var r = WireReader(b); return try NodeStatusReply(from: &r) }
        #expect(back == status)
        // A node that does not page says so; a reader stops where an older node's reply ends.
        let plain = NodeStatusReply(gpus: status.gpus, sessions: [])
        var w2 = WireWriter()
        plain.encode(into: &w2)
        #expect(try w2.bytes.withUnsafeBytes { b in var r = WireReader(b); return try NodeStatusReply(from: &r) } == plain)
        let older = Array(w2.bytes.dropLast(1 + 8 + 8 + 4))
        let fromOlder = try older.withUnsafeBytes { b in var r = WireReader(b); return try NodeStatusReply(from: &r) }
        #expect(fromOlder.pageIdleAfterMilliseconds == nil && fromOlder.gpus == plain.gpus)
        var request = WireWriter()
        PageOutSessions(pid: 4242).encode(into: &request)
        #expect(try request.bytes.withUnsafeBytes { try PageOutSessions.decode($0) }.pid == 4242)
    }

    @Test func randomBytesNeverCrashTheDecoders() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<96, using: &generator)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) }
            bytes.withUnsafeBytes { b in
                _ = try? Hello.decode(b)
                _ = try? Copy2D.decode(b)
                var r = WireReader(b)
                _ = try? LoadModuleReply(from: &r)
                var r2 = WireReader(b)
                _ = try? NodeStatusReply(from: &r2)
                var fb = FrameBuffer(maxBody: 1 << 16, initialCapacity: 16)
                fb.append(b)
                while let f = try? fb.nextFrame() { _ = f }
                fb.deallocate()
            }
        }
    }

    @Test func sizesParse() {
        #expect(VirtualGPUEnvironment.parseSize("512MiB") == 512 << 20)
        #expect(VirtualGPUEnvironment.parseSize("2GiB") == 2 << 30)
        #expect(VirtualGPUEnvironment.parseSize("2g") == 2 << 30)
        #expect(VirtualGPUEnvironment.parseSize("1.5GiB") == 1536 << 20)
        #expect(VirtualGPUEnvironment.parseSize("300") == 300 << 20)
        #expect(VirtualGPUEnvironment.parseSize("0") == nil)
        #expect(VirtualGPUEnvironment.parseSize("1.3MiB") == nil)
        #expect(VirtualGPUEnvironment.parseSize("12 parsecs") == nil)
        #expect(VirtualGPUEnvironment.parseSize("") == nil)
        #expect(VirtualGPUEnvironment.parseSize("99999999999999TiB") == nil)
        #expect(VirtualGPUEnvironment.formatSize(3 << 30) == "3GiB" && VirtualGPUEnvironment.formatSize(1536 << 20) == "1536MiB")
    }
}
