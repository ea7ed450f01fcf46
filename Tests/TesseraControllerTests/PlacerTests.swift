import Testing
import TesseraPoolAPI
@testable import TesseraController

/// The controller's placer on its own, without I/O: spec checks, the three placement modes, the engine cache,
/// and restored state that no controller could have written.
@Suite struct PlacerTests {
    typealias S = PoolStateTests

    static func nodes(_ registrations: [NodeRegistration], down: Set<String> = []) -> [String: PoolState.NodeRecord] {
        Dictionary(uniqueKeysWithValues: registrations.map {
            ($0.name, PoolState.NodeRecord(registration: $0, state: down.contains($0.name) ? .down : .up, lastHeartbeat: 0))
        })
    }

    static func spec(_ vgpus: Int = 1, mib: Int = 1024, percent: Int = 10, sameNode: Bool = false, distinct: Bool = false,
                     sameGPU: Bool = false, node: String? = nil, preferred: String? = nil, mode: String = "share") -> VirtualGPUSpec {
        VirtualGPUSpec(vgpus: vgpus, memoryMiB: mib, computePercent: percent, sameNode: sameNode, node: node,
                       preferredNode: preferred, computeMode: mode, distinctGPUs: distinct, sameGPU: sameGPU)
    }

    @Test func checksChooseTheModeAndRefuseBadSpecs() throws {
        let nodes = Self.nodes([S.node("a"), S.node("b")], down: ["b"])
        #expect(try Placer.check(Self.spec(), nodes: nodes).mode == .each)
        #expect(try Placer.check(Self.spec(2, sameNode: true), nodes: nodes).mode == .oneNode)
        #expect(try Placer.check(Self.spec(2, distinct: true), nodes: nodes).mode == .together)
        #expect(try Placer.check(Self.spec(2, sameGPU: true), nodes: nodes).mode == .together)
        // One vGPU "together" is just one vGPU.
        #expect(try Placer.check(Self.spec(1, sameGPU: true), nodes: nodes).mode == .each)
        let refusals: [(VirtualGPUSpec, PoolError.Code)] = [
            (Self.spec(0), .invalidRequest), (Self.spec(65), .invalidRequest), (Self.spec(mib: 0), .invalidRequest),
            (Self.spec(percent: -1), .invalidRequest), (Self.spec(percent: 101), .invalidRequest),
            (Self.spec(percent: 0, mode: "limit"), .invalidRequest),
            (Self.spec(mode: "turbo"), .invalidRequest), (Self.spec(node: "nowhere"), .notFound), (Self.spec(node: "b"), .conflict),
            (VirtualGPUSpec(allowedModels: ["H100"], deniedModels: ["H100"]), .unavailable), (VirtualGPUSpec(deniedModels: ["H100"]), .unavailable),
        ]
        for (spec, code) in refusals {
            do throws(PoolError) {
                _ = try Placer.check(spec, nodes: nodes)
                Issue.record("accepted \(spec)")
            } catch {
                #expect(error.code == code, "\(spec): \(error.message)")
            }
        }
    }

    @Test func eachModePlacesAndTranslatesDeviceIndices() throws {
        // Device indices 3 and 7: the engine's positions 0 and 1 must come back as the node's own indices.
        let odd = NodeRegistration(name: "a", endpoint: "a:1", gpus: [
            GPUDescription(index: 7, model: "H100", memoryMiB: 4096, multiprocessors: 132),
            GPUDescription(index: 3, model: "H100", memoryMiB: 4096, multiprocessors: 132),
        ])
        let nodes = Self.nodes([odd])
        var placer = Placer(strategy: .engine(.bestFit))
        let each = try placer.place(Self.spec(2, mib: 3000), nodes: nodes, granted: { [:] })
        #expect(Set(each.map(\.gpu)) == [3, 7] && each.allSatisfy { $0.endpoint == "a:1" && $0.memoryMiB == 3000 })
        // Full now: a refusal names what is free and takes nothing.
        do throws(PoolError) {
            _ = try placer.place(Self.spec(1, mib: 2000), nodes: nodes, granted: { [:] })
            Issue.record("overcommitted")
        } catch {
            #expect(error.code == .unavailable && error.message.contains("a/3 1096 MiB 90 %") && error.message.contains("a/7 1096 MiB 90 %"))
        }
        placer.free(each, spec: Self.spec(2, mib: 3000))
        let together = try placer.place(Self.spec(2, mib: 1000, distinct: true), nodes: nodes, granted: { [:] })
        #expect(Set(together.map(\.gpu)) == [3, 7])
        let oneGPU = try placer.place(Self.spec(3, mib: 1000, sameGPU: true), nodes: nodes, granted: { [:] })
        #expect(Set(oneGPU.map(\.gpu)).count == 1)
    }

    @Test func oneNodeRequestsTryTheNextNodeAndUndoPartialTakes() throws {
        // a has one GPU with room for one 3 GiB slice; b has two: two slices on one node can only go to b.
        let nodes = Self.nodes([S.node("a", gpus: 1, memoryMiB: 4096), S.node("b", gpus: 2, memoryMiB: 4096)])
        var placer = Placer(strategy: .engine(.tessera))
        let placed = try placer.place(Self.spec(2, mib: 3072, sameNode: true, preferred: "a"), nodes: nodes, granted: { [:] })
        #expect(placed.map(\.node) == ["b", "b"])
        // a's slice that was tried first was handed back: a still takes a 4 GiB whole-memory slice.
        let onA = try placer.place(Self.spec(1, mib: 4096, node: "a"), nodes: nodes, granted: { [:] })
        #expect(onA.map(\.node) == ["a"])
    }

    @Test func theEngineIsBuiltFromGrantsOnlyWhenNodesChange() throws {
        let nodes = Self.nodes([S.node("a", gpus: 1, memoryMiB: 4096)])
        var placer = Placer(strategy: .engine(.tessera))
        var asked = 0
        let held: Placer.Grants = [GPUKey(node: "a", index: 0): (memoryMiB: 3072, computePercent: 30)]
        _ = try placer.place(Self.spec(mib: 512), nodes: nodes, granted: { asked += 1; return held })
        _ = try placer.place(Self.spec(mib: 256), nodes: nodes, granted: { asked += 1; return held })
        #expect(asked == 1)
        // The cache remembers both takes: 3072 + 512 + 256 of 4096 MiB are gone.
        #expect(throws: PoolError.self) { try placer.place(Self.spec(mib: 512), nodes: nodes, granted: { asked += 1; return held }) }
        placer.invalidate()
        // Rebuilt from the grants alone (the caller's books), which hold only the 3 GiB.
        _ = try placer.place(Self.spec(mib: 1024), nodes: nodes, granted: { asked += 1; return held })
        #expect(asked == 2)
    }

    @Test func aPoolTheEngineCannotModelIsRefusedNotCrashed() throws {
        // 65 distinct GPU models: more than the engine models. Placement says so; nothing traps.
        let many = (0..<65).map { i in
            NodeRegistration(name: "n\(i)", endpoint: nil, gpus: [GPUDescription(index: 0, model: "M\(i)", memoryMiB: 1024, multiprocessors: 1)])
        }
        var p = PoolState(now: 0)
        for n in many { _ = try p.register(n, now: 0) }
        do throws(PoolError) {
            _ = try p.grant(LeaseRequest(spec: Self.spec(mib: 64), requester: "x"), now: 1)
            Issue.record("placed on a pool the engine cannot model")
        } catch {
            #expect(error.code == .unavailable)
        }
    }

    @Test func corruptRestoredRowsAreClearErrors() {
        let good = S.node("a", gpus: 1, memoryMiB: 4096)
        let lease = { (percent: Int, mib: Int) in
            Lease(id: "lease-9", requester: "a", program: "p", owner: "o", spec: VirtualGPUSpec(),
                  vgpus: [VirtualGPUAssignment(node: "a", gpu: 0, memoryMiB: mib, computePercent: percent, endpoint: nil)], createdAt: 0)
        }
        let duplicateGPUs = NodeRegistration(name: "b", endpoint: nil, gpus: [
            GPUDescription(index: 0, model: "H100", memoryMiB: 1024, multiprocessors: 1),
            GPUDescription(index: 0, model: "H100", memoryMiB: 1024, multiprocessors: 1),
        ])
        let noMemory = NodeRegistration(name: "c", endpoint: nil, gpus: [GPUDescription(index: 0, model: "H100", memoryMiB: 0, multiprocessors: 1)])
        let cases: [(nodes: [NodeRegistration], leases: [Lease], names: String)] = [
            ([good, duplicateGPUs], [], "stored node b"),
            ([good, noMemory], [], "stored node c"),
            ([good], [lease(500, 10)], "stored lease lease-9"),
            ([good], [lease(10, -5)], "stored lease lease-9"),
        ]
        for c in cases {
            do throws(PoolError) {
                _ = try PoolState(now: 0, nodes: c.nodes, leases: c.leases, reservations: [])
                Issue.record("restored corrupt state: \(c.names)")
            } catch {
                #expect(error.code == .storage && error.message.hasPrefix(c.names), "\(error.message)")
            }
        }
        #expect((try? PoolState(now: 0, nodes: [good], leases: [lease(10, 10)], reservations: [])) != nil)
    }
}
