// Controller benchmark: placement decisions per second and durable lease grant/release operations per second,
// each beside a baseline measured in the same run.
//
//   placement: PoolState grant+release (the controller's whole decision path, 64 nodes × 8 GPUs) against the
//              bare TesseraPlacement engine placing and releasing the same shapes.
//   durable:   lease grants and releases through Controller.perform, each acknowledged only once on disk
//              (WAL, synchronous=FULL), from many concurrent clients (group commit), against raw SQLite:
//              one INSERT per transaction, each committed with fsync, one after another.
//   groups:    the placement decisions again with 100 groups (every request a member's, checked against its
//              group's quota and member limit), against the same decisions without groups.
//   queue:     over HTTP to an in-process controller, the time from a release's DELETE to the moment a waiter
//              (long-polling GET /v1/queue/{id} as a node does) holds the freed room, against a plain grant's
//              POST /v1/leases on the same server.
import Foundation
import GRDB
import Logging
import TesseraController
import TesseraPlacement
import TesseraPoolAPI

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func asyncSeconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let arguments = CommandLine.arguments
let decisions = Int(arguments.dropFirst().first ?? "") ?? 20_000
let durableOps = Int(arguments.dropFirst(2).first ?? "") ?? 4_000
let concurrency = 64
let nodes = (0..<64).map { n in
    NodeRegistration(name: String(format: "node-%02d", n), endpoint: nil,
                     gpus: (0..<8).map { GPUDescription(index: $0, model: n % 2 == 0 ? "H100" : "A100", memoryMiB: 81920, multiprocessors: 132) })
}
let shapes: [(Int, Int)] = [(10, 2048), (25, 8192), (50, 16384), (5, 1024), (100, 40960)]

// MARK: Placement

var pool = PoolState(strategy: .engine(.tessera), now: 0)
for n in nodes { _ = try pool.register(n, now: 0) }
// Fill the pool halfway so decisions are made among partly used GPUs.
var held: [String] = []
for i in 0..<700 {
    let (p, m) = shapes[i % shapes.count]
    if let l = try? pool.grant(LeaseRequest(spec: VirtualGPUSpec(memoryMiB: m, computePercent: p), requester: "bench"), now: 0) { held.append(l.0.id) }
}
let controllerTime = try seconds {
    for i in 0..<decisions {
        let (p, m) = shapes[i % shapes.count]
        let (lease, _) = try pool.grant(LeaseRequest(spec: VirtualGPUSpec(memoryMiB: m, computePercent: p), requester: "bench"), now: 0)
        _ = pool.release(lease: lease.id, now: 0)
    }
}
var engine = try PlacementEngine(
    nodes: nodes.map { n in PlacementNode(name: n.name, cpuMilli: 1 << 30, memoryMiB: 1 << 40, gpus: n.gpus.map { GPU(model: $0.model, memoryMiB: $0.memoryMiB) }) },
    policy: .tessera, workload: TargetWorkload(weights: shapes.map { (try! PlacementRequest.sharedGPU(computePercent: $0.0, memoryMiB: $0.1), 1) }))
for i in 0..<700 {
    let (p, m) = shapes[i % shapes.count]
    _ = engine.placeAndAllocate(try PlacementRequest.sharedGPU(computePercent: p, memoryMiB: m))
}
let engineTime = try seconds {
    for i in 0..<decisions {
        let (p, m) = shapes[i % shapes.count]
        let r = try PlacementRequest.sharedGPU(computePercent: p, memoryMiB: m)
        if let placement = engine.placeAndAllocate(r) { try engine.release(placement, for: r) }
    }
}
// The same decisions with 100 groups: each request comes from a member of one of them (owner uid N, group N % 100).
var grouped = PoolState(strategy: .engine(.tessera), now: 0)
for n in nodes { _ = try grouped.register(n, now: 0) }
_ = try grouped.applyGroups(GroupsDocument(groups: (0..<100).map { g in
    GroupDefinition(name: "course-\(g)", members: GroupMembers(users: (0..<10).map { "\(g + 100 * $0)" }),
                    quota: GroupQuota(memoryMiB: 1 << 30, computePercent: 1 << 20, vgpus: 1 << 20), memberLimit: GroupQuota(vgpus: 1 << 20),
                    priority: g % 3)
}), now: 0)
func member(_ i: Int) -> String { "uid \(i % 1000)" }
for i in 0..<700 {
    let (p, m) = shapes[i % shapes.count]
    _ = try? grouped.grant(LeaseRequest(spec: VirtualGPUSpec(memoryMiB: m, computePercent: p), requester: "bench", owner: member(i)), now: 0)
}
let groupedTime = try seconds {
    for i in 0..<decisions {
        let (p, m) = shapes[i % shapes.count]
        let (lease, _) = try grouped.grant(LeaseRequest(spec: VirtualGPUSpec(memoryMiB: m, computePercent: p), requester: "bench", owner: member(i)), now: 0)
        precondition(lease.group != nil)
        _ = grouped.release(lease: lease.id, now: 0)
    }
}
let controllerRate = Double(decisions) / controllerTime
let engineRate = Double(decisions) / engineTime
print(String(format: "placement: %.0f decisions/s (grant+release in the controller's state machine, 64 nodes x 8 GPUs)", controllerRate))
print(String(format: "  baseline: %.0f decisions/s (bare placement engine, same shapes); ratio %.2f", engineRate, controllerRate / engineRate))
let groupedRate = Double(decisions) / groupedTime
print(String(format: "placement with 100 groups: %.0f decisions/s (every request a member's, quota and member limit checked)", groupedRate))
print(String(format: "  baseline: %.0f decisions/s (the same decisions without groups, above); ratio %.2f", controllerRate, groupedRate / controllerRate))

// MARK: Durable leases

let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

var rawConfiguration = Configuration()
rawConfiguration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
let raw = try DatabasePool(path: directory.appendingPathComponent("raw.sqlite").path, configuration: rawConfiguration)
try raw.write { try $0.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, document BLOB NOT NULL)") }
let rawCommits = max(200, durableOps / 4)
let document = Data(repeating: 0x41, count: 400)
let rawTime = try seconds {
    for i in 0..<rawCommits {
        try raw.write { try $0.execute(sql: "INSERT INTO t (id, document) VALUES (?, ?)", arguments: [i, document]) }
    }
}
let rawRate = Double(rawCommits) / rawTime

let configuration = ControllerConfiguration(
    statePath: directory.appendingPathComponent("controller.sqlite").path, adminTokens: ["x"], nodeTokens: [])
let controller = try Controller(configuration: configuration, logger: Logger(label: "bench"))
for n in nodes.prefix(16) { _ = try await controller.perform { s, now throws(PoolError) in ((), try s.register(n, now: now)) } }
let perClient = durableOps / concurrency / 2
let durableTime = try await asyncSeconds {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for c in 0..<concurrency {
            group.addTask {
                for i in 0..<perClient {
                    let (p, m) = shapes[(c + i) % shapes.count]
                    let request = LeaseRequest(spec: VirtualGPUSpec(memoryMiB: m, computePercent: p), requester: "bench")
                    let lease = try await controller.perform { s, now throws(PoolError) in try s.grant(request, now: now) }
                    try await controller.perform { s, now in ((), s.release(lease: lease.id, now: now)) }
                }
            }
        }
        try await group.waitForAll()
    }
}
let durableRate = Double(perClient * concurrency * 2) / durableTime
print(String(format: "durable leases: %.0f grant/release operations/s, each on disk before acknowledged (%d concurrent clients, group commit)", durableRate, concurrency))
print(String(format: "  baseline: %.0f commits/s (raw SQLite INSERT + fsync, one per transaction, WAL, synchronous=FULL); ratio %.2f", rawRate, durableRate / rawRate))

// MARK: Queue grant latency

try await queueLatency(directory: directory, nodes: Array(nodes.prefix(1)))
