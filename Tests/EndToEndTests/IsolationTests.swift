import Foundation
import Testing
import TesseraWire

/// One program's faults, deaths and garbage never reach another program or the node.
@Suite struct IsolationTests {
    @Test(arguments: ["copy", "memset", "free", "kernel"])
    func faultsStayWithTheirProgram(mode: String) throws {
        let node = try TestNode()
        let neighbour = node.start("hold", ["16"])
        #expect(neighbour.waitForOutput("READY"))
        let r = node.run("fault", [mode])
        #expect(r.status == 0, "\(mode): \(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("fault OK \(mode)"))
        // The node and the neighbour are unharmed.
        #expect(node.isRunning)
        // The ended program's session is torn down after its connection closes: wait for that, not for a moment.
        let (status, settled) = try node.waitForStatus(timeout: 10) { $0.sessions.count == 1 }
        #expect(settled && status.sessions[0].virtualGPUs[0].usedMemory == 16 << 20, "\(status.sessions)")
        let after = node.run("memops")
        #expect(after.status == 0, "\(after.stderr)")
        kill(neighbour.pid, SIGKILL)
        _ = neighbour.finish()
    }

    @Test(arguments: [false, true])
    func killedProgramIsCleanedUpWithinASecond(spinning: Bool) throws {
        let node = try TestNode()
        let holder = node.start("hold", spinning ? ["100", "spin"] : ["100"], memory: "128MiB")
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        let before = try node.status()
        #expect(before.gpus[0].usedMemory >= 100 << 20)
        let session = try #require(before.sessions.first)
        // The node knows the program from the kernel (SO_PEERCRED): the pid is the program's, which
        // `tessera run` became by exec.
        #expect(session.pid == Int(holder.pid))
        #expect(session.uid == Int(getuid()))
        #expect(session.programName == "hold")
        kill(holder.pid, SIGKILL)
        let (after, freed) = try node.waitForStatus(timeout: 1.0) { $0.gpus[0].usedMemory == 0 && $0.sessions.isEmpty }
        // Even a kernel spinning forever stops: destroying the context cancels its running blocks.
        #expect(freed, "still used after 1 s: \(after)")
        _ = holder.finish()
        #expect(node.isRunning)
    }

    @Test func malformedFramesEndOnlyTheirSession() throws {
        let node = try TestNode()
        let neighbour = node.start("hold", ["8"])
        #expect(neighbour.waitForOutput("READY"))

        func header(_ opcode: Opcode, length: Int, flags: FrameFlags = .replyExpected, version: UInt8 = WireProtocol.version) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: 16)
            b.withUnsafeMutableBytes { FrameHeader(opcode: opcode, flags: flags, bodyLength: length, requestID: 1).encode(to: $0.baseAddress!) }
            b[0] = version
            return b
        }
        var hello = WireWriter()
        hello.frame(Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 16 << 20, computePercent: 1, programName: "evil", sharesMemory: true),
                    flags: .replyExpected, requestID: 1)
        var copy = WireWriter()
        copy.frame(CopyToDevice(device: 0, stream: 0, destination: 0, count: 1000, source: .inline), requestID: 2)  // carries no data
        var unregistered = WireWriter()
        unregistered.frame(RegisterHostMemory(region: 1, size: 4096), flags: .replyExpected, requestID: 2)  // no descriptor
        let hostile: [(String, [UInt8], Bool)] = [
            ("garbage", Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), false),
            ("wrong version", header(.hello, length: 0, version: 77), false),
            ("huge frame", header(.loadModule, length: Int(UInt32.max)), false),
            ("request before hello", header(.allocate, length: 12) + [UInt8](repeating: 0, count: 12), false),
            ("truncated hello", Array(hello.bytes.prefix(hello.bytes.count - 5)), false),
            ("hello then a reply frame", hello.bytes + header(.reply, length: 0), true),
            ("hello then a lying copy", hello.bytes + copy.bytes, true),
            ("hello then a region without a descriptor", hello.bytes + unregistered.bytes, true),
            ("hello then random bytes", hello.bytes + (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }, true),
        ]
        for (name, bytes, greeted) in hostile {
            let c = try RawConnection(unix: node.socketPath)
            c.send(bytes)
            if name == "truncated hello" { shutdown(c.fd, Int32(SHUT_WR)) }
            let (frames, closed) = c.drain()
            #expect(closed, "\(name): connection left open")
            let last = frames.last
            if name != "truncated hello" {
                #expect(last?.0.opcode == .fatal, "\(name): no fatal frame, got \(frames.map(\.0.opcode))")
            }
            if greeted { #expect(frames.first?.0.opcode == .reply, "\(name)") }
        }
        // The node serves on, the neighbour keeps its memory, and nothing of the hostile sessions remains.
        #expect(node.isRunning)
        let (status, settled) = try node.waitForStatus(timeout: 2) { $0.sessions.count == 1 }
        #expect(settled, "\(status.sessions)")
        #expect(status.sessions.first?.programName == "hold")
        let r = node.run("memops")
        #expect(r.status == 0, "\(r.stderr)")
        kill(neighbour.pid, SIGKILL)
        _ = neighbour.finish()
    }

    @Test func sixteenProgramsAtOnce() throws {
        let node = try TestNode(gpus: 2, memory: "2GiB")
        let programs = (0..<16).map { i in node.start(i % 2 == 0 ? "memops" : "vadd", [], memory: "48MiB", compute: 5) }
        for (i, p) in programs.enumerated() {
            let r = p.finish(timeout: 180)
            #expect(r.status == 0, "program \(i): \(r.stdout)\n\(r.stderr)")
        }
        let (status, empty) = try node.waitForStatus(timeout: 2) { $0.sessions.isEmpty }
        #expect(empty)
        #expect(status.gpus.allSatisfy { $0.usedMemory == 0 && $0.grantedMemory == 0 })
    }
}
