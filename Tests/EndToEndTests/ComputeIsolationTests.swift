import Foundation
import Testing
import TesseraWire

/// Compute shares enforced by the node for real programs under `tessera run`, measured from the device time
/// the node reports per vGPU.
@Suite(.serialized) struct ComputeIsolationTests {
    /// Device time each session used between two status snapshots, by program order.
    static func deviceTime(_ node: TestNode, pids: [Int32], over seconds: Double) throws -> [Double] {
        func busy(_ s: NodeStatusReply) -> [UInt64] {
            pids.map { pid in s.sessions.first { $0.pid == Int(pid) }?.virtualGPUs.first?.busyNanoseconds ?? 0 }
        }
        let before = busy(try node.status())
        usleep(UInt32(seconds * 1_000_000))
        let after = busy(try node.status())
        return zip(after, before).map { Double($0 &- $1) }
    }

    @Test func threeProgramsGetTheirShares() throws {
        let node = try TestNode()
        let percents = [10, 30, 60]
        let programs = percents.map { node.start("busy", ["14", "3000"], memory: "16MiB", compute: $0) }
        for p in programs { #expect(p.waitForOutput("READY"), "\(p.stderr)") }
        usleep(500_000)
        let used = try Self.deviceTime(node, pids: programs.map(\.pid), over: 10)
        let total = used.reduce(0, +)
        let shares = used.map { $0 / total }
        for (share, percent) in zip(shares, percents) {
            #expect(abs(share - Double(percent) / 100) <= 0.02, "shares \(shares)")
        }
        // The node also reports each vGPU's utilization over the last second.
        let status = try node.status()
        let utilization = programs.map { p in status.sessions.first { $0.pid == Int(p.pid) }?.virtualGPUs.first?.utilizationBasisPoints ?? 0 }
        #expect(utilization.allSatisfy { $0 > 0 }, "\(utilization)")
        for p in programs { #expect(p.finish(timeout: 60).status == 0) }
    }

    @Test func limitCapsALoneProgram() throws {
        let node = try TestNode()
        let program = node.start("busy", ["6", "3000"], memory: "16MiB", compute: 25, computeMode: .limit)
        #expect(program.waitForOutput("READY"), "\(program.stderr)")
        usleep(500_000)
        let used = try Self.deviceTime(node, pids: [program.pid], over: 4)[0] / 4e9
        #expect(abs(used - 0.25) <= 0.02, "device time fraction \(used)")
        #expect(program.finish(timeout: 60).status == 0)
    }
}
