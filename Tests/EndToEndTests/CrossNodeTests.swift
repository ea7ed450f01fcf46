import Foundation
import Testing
import TesseraPoolAPI
import TesseraWire

/// Programs whose vGPUs span nodes: a controller and nodes as separate processes on loopback, real programs
/// whose runtime connects to every node holding one of their vGPUs.
@Suite(.serialized) struct CrossNodeTests {
    /// Waits until neither the controller nor any node holds anything for programs.
    func expectNothingHeld(_ controller: TestController, _ nodes: [PoolNode], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty }, sourceLocation: sourceLocation)
        for n in nodes {
            #expect(controller.wait { try n.status().sessions.isEmpty }, "\(n.name) still has sessions", sourceLocation: sourceLocation)
            #expect(controller.wait { try n.status().gpus.allSatisfy { $0.grantedMemory == 0 && $0.usedMemory == 0 } },
                    "\(n.name) still holds memory", sourceLocation: sourceLocation)
        }
        #expect(controller.wait { try controller.admin.get("/v1/gpus", as: [GPUInfo].self).allSatisfy { $0.grantedMemoryMiB == 0 } },
                sourceLocation: sourceLocation)
    }

    @Test func oneProgramUsesVGPUsOfTwoNodes() throws {
        let controller = try TestController()
        let a = try PoolNode("node-a", controller: controller)
        let b = try PoolNode("node-b", controller: controller)
        // Two 768 MiB vGPUs do not fit one node's 1 GiB GPU: device 0 is on node-a, device 1 on node-b. The
        // program checks each device's quota (cudaMemGetInfo, properties), runs a kernel on each, copies between
        // them (cudaMemcpy device to device, cudaMemcpyPeer) and that their pointers differ.
        let r = a.run("multigpu", ["2", "768"], vgpus: 2, memory: "768MiB")
        #expect(r.status == 0 && r.stdout.contains("multigpu OK devices=2"), "\(r.stdout)\(r.stderr)\n\(a.process.stderr)\n\(b.process.stderr)")
        // The program attached to node-b with the lease node-a obtained.
        let events = try controller.admin.get("/v1/events", as: [PoolEvent].self)
        #expect(events.contains { $0.kind == "lease-attached" && $0.message.contains("node-b") }, "\(events.map(\.message))")
        #expect(b.process.stderr.contains("session attached"), "\(b.process.stderr)")
        // Leases never show their attach secret.
        #expect(events.allSatisfy { !$0.message.contains("secret") })
        expectNothingHeld(controller, [a, b])
        // Four do not fit the pool at all: refused with what is free, nothing held afterwards.
        let refused = a.run("multigpu", ["4", "768"], vgpus: 4, memory: "768MiB")
        #expect(refused.status != 0 && refused.stderr.contains("cannot place"), "\(refused.stderr)")
        expectNothingHeld(controller, [a, b])
    }

    @Test func killedProgramLeavesNothingOnEitherNode() throws {
        let controller = try TestController()
        let a = try PoolNode("node-a", controller: controller)
        let b = try PoolNode("node-b", controller: controller)
        let holder = a.start("hold", ["100"], vgpus: 2, memory: "768MiB", compute: 30, computeMode: .limit)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        // Each node holds one vGPU of the program, with its memory in use, its quota and compute mode as leased.
        let onA = try a.status(), onB = try b.status()
        for (name, status) in [("node-a", onA), ("node-b", onB)] {
            #expect(status.sessions.count == 1 && status.sessions[0].virtualGPUs.count == 1, "\(name): \(status)")
            let v = try #require(status.sessions.first?.virtualGPUs.first)
            #expect(v.usedMemory >= 100 << 20 && v.memoryBytes == 768 << 20 && v.computePercent == 30 && v.computeMode == .limit, "\(name): \(v)")
            #expect(status.sessions[0].programName == "hold")
        }
        let leases = try controller.admin.get("/v1/leases", as: [Lease].self)
        #expect(leases.count == 1 && Set(leases[0].vgpus.map(\.node)) == ["node-a", "node-b"] && leases[0].attachSecret == nil)
        #expect(leases.first?.spec.computeMode == "limit" && leases.first?.program == "hold")
        // Both nodes report the session under the one lease.
        #expect(controller.wait { try controller.admin.get("/v1/sessions", as: [SessionInfo].self).filter { $0.report.lease == leases[0].id }.count == 2 })
        holder.signalAndWait(SIGKILL)
        expectNothingHeld(controller, [a, b])
    }

    @Test func deathOfTheOtherNodeEndsTheWholeSession() throws {
        let controller = try TestController(nodeTimeout: 1.5)
        let a = try PoolNode("node-a", controller: controller)
        let b = try PoolNode("node-b", controller: controller)
        let holder = a.start("hold", ["16"], vgpus: 2, memory: "768MiB")
        defer { holder.signalAndWait(SIGKILL) }
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        #expect(try a.status().sessions.count == 1)
        // node-b dies: the controller marks it down and ends the lease; node-a ends the program's home session.
        b.kill9()
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty })
        #expect(controller.wait { try a.status().sessions.isEmpty && a.status().gpus.allSatisfy { $0.grantedMemory == 0 } })
        let events = try controller.admin.get("/v1/events", as: [PoolEvent].self)
        #expect(events.contains { $0.kind == "lease-ended" && $0.message.contains("node-b is down") }, "\(events.map(\.message))")
    }

    @Test func forgedAttachmentsAreRefused() throws {
        let controller = try TestController()
        let a = try PoolNode("node-a", controller: controller)
        let b = try PoolNode("node-b", controller: controller)
        let holder = a.start("hold", ["16"], vgpus: 2, memory: "768MiB")
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        let lease = try #require(try controller.admin.get("/v1/leases", as: [Lease].self).first)
        // Another program that knows the lease id (listings show it) but not the secret gets nothing on node-b.
        let endpoint = try #require(lease.vgpus.first { $0.node == "node-b" }?.endpoint)
        for secret in ["0000000000000000", ""] {
            let c = try RawConnection(tcp: endpoint)
            var w = WireWriter()
            let credential = AttachCredential(leaseID: lease.id, secret: secret.isEmpty ? "x" : secret)
            w.frame(Hello(clientPID: 1, virtualGPUs: 1, memoryBytes: 1 << 20, computePercent: 1, programName: "thief", sharesMemory: false,
                          acceptsRemoteDevices: true, addressWindow: 1, deviceBase: 1, attach: credential), flags: .replyExpected, requestID: 1)
            c.send(w.bytes)
            let (header, body) = try #require(c.receiveFrame())
            #expect(header.opcode == .reply)
            let status = try body.withUnsafeBytes { b in var r = WireReader(b); return try ReplyHeader(from: &r).status }
            #expect(!status.isOK && status.message.contains("refused the attachment"), "\(status)")
        }
        #expect(try b.status().sessions.count == 1)
        holder.signalAndWait(SIGKILL)
        expectNothingHeld(controller, [a, b])
    }

    @Test func cpuOnlyNodeRunsProgramsOnRemoteVGPUs() throws {
        let controller = try TestController()
        let cpu = try PoolNode("cpu-box", controller: controller, gpus: 0)
        let gpu = try PoolNode("gpu-box", controller: controller)
        let r = cpu.run("vadd", ["100000", "3"], memory: "128MiB", compute: 20)
        #expect(r.status == 0 && r.stdout.contains("vadd OK"), "\(r.stdout)\(r.stderr)\n\(cpu.process.stderr)")
        let m = cpu.run("multigpu", ["1", "128"], memory: "128MiB")
        #expect(m.status == 0 && m.stdout.contains("multigpu OK devices=1"), "\(m.stdout)\(m.stderr)")
        #expect(gpu.process.stderr.contains("session attached"))
        expectNothingHeld(controller, [cpu, gpu])
    }
}
