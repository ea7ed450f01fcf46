import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TesseraController
import TesseraPoolAPI

/// Median and 90th percentile, in milliseconds.
func percentiles(_ samples: [Double]) -> (median: Double, p90: Double) {
    let s = samples.sorted()
    return (s[s.count / 2] * 1000, s[min(s.count - 1, s.count * 9 / 10)] * 1000)
}

/// Starts a controller's HTTP API on a free loopback port in `group`; returns its URL and the service group that
/// stops it.
func startController(_ controller: Controller, in group: inout ThrowingTaskGroup<Void, any Error>) async throws -> (String, ServiceGroup) {
    let (stream, continuation) = AsyncStream<Int>.makeStream()
    let quiet = Logger(label: "bench-http", factory: { _ in SwiftLogNoOpLogHandler() })
    let app = Application(
        router: ControllerAPI.router(for: controller),
        configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "tessera-bench"),
        onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0); continuation.finish() },
        logger: quiet)
    let services = ServiceGroup(services: [app], logger: quiet)
    group.addTask { try await services.run() }
    for await port in stream { return ("http://127.0.0.1:\(port)", services) }
    throw PoolError(.transport, "the bench's controller did not start")
}

/// The release-to-grant latency of a queued request against a plain grant's POST, both over HTTP.
func queueLatency(directory: URL, nodes: [NodeRegistration], rounds: Int = 60) async throws {
    let configuration = ControllerConfiguration(
        port: 0, statePath: directory.appendingPathComponent("queue.sqlite").path, adminTokens: ["admin"], nodeTokens: ["node"])
    let controller = try Controller(configuration: configuration, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    for n in nodes { _ = try await controller.perform { s, now throws(PoolError) in ((), try s.register(n, now: now)) } }
    let node = nodes[0]
    let gpuMiB = node.gpus.reduce(0) { $0 + $1.memoryMiB }
    try await withThrowingTaskGroup(of: Void.self) { group in
        let (url, services) = try await startController(controller, in: &group)
        let client = ControllerClient(baseURL: url, token: "node")
        func lease(_ mib: Int) -> LeaseRequest {
            LeaseRequest(spec: VirtualGPUSpec(memoryMiB: mib, computePercent: 1, node: node.name), requester: node.name, program: "bench")
        }
        // Baseline: a plain grant's POST (placement, commit, reply), then its release.
        var plain: [Double] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            let l: Lease = try await client.post("/v1/leases", lease(1024))
            plain.append(elapsed(ContinuousClock.now - start))
            try await client.delete("/v1/leases/\(l.id)")
        }
        // Queue: every GPU is full; a waiter queues and long-polls; the holder of one GPU's memory is released
        // and the time runs until the waiter holds the lease.
        var queued: [Double] = []
        let filler: [Lease] = try await (0..<node.gpus.count).asyncMap { _ in try await client.post("/v1/leases", lease(node.gpus[0].memoryMiB)) }
        precondition(filler.count * node.gpus[0].memoryMiB == gpuMiB)
        var holder = filler[0]
        for _ in 0..<rounds {
            let entry: QueueEntry = try await client.post("/v1/queue", QueueRequest(lease: lease(node.gpus[0].memoryMiB), waitSeconds: 30))
            precondition(entry.state == .waiting)
            async let granted = waitForGrant(client, entry)
            // Let the waiter start its long poll, then release.
            try await Task.sleep(for: .milliseconds(20))
            let releasedAt = ContinuousClock.now
            try await client.delete("/v1/leases/\(holder.id)")
            let (next, at) = try await granted
            queued.append(elapsed(at - releasedAt))
            holder = next
        }
        let q = percentiles(queued), p = percentiles(plain)
        print(String(format: "queue: granted %.2f ms after a release (median; p90 %.2f ms): DELETE of the holder, grant to the head in the same commit, long poll answered", q.median, q.p90))
        print(String(format: "  baseline: %.2f ms (median; p90 %.2f ms) for a plain grant's POST /v1/leases on the same server; ratio %.2f", p.median, p.p90, q.median / p.median))
        await services.triggerGracefulShutdown()
    }
}

/// What a node does while its program waits: long-polls its queue entry until it is granted; returns the lease
/// and when it arrived.
func waitForGrant(_ client: ControllerClient, _ entry: QueueEntry) async throws -> (Lease, ContinuousClock.Instant) {
    var e = entry
    while e.state != .granted { e = try await client.get("/v1/queue/\(entry.id)?wait=0.5") }
    return (e.lease!, ContinuousClock.now)
}

func elapsed(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}
